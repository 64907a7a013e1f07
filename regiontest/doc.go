// Package regiontest is a test kit for region-loss tests: it gives a test
// several regions, each backed by a real PostgreSQL database and, on demand,
// a real (in-process) Kafka cluster, with a fault-injecting network in front
// of the database and a clock the test can skew. xregion's own tests use it,
// and so can yours: a failover test should watch real queries time out and
// real connections drop, not a mock replay what someone expected them to do.
//
// # A region-loss test
//
//	func TestFailover(t *testing.T) {
//		c := regiontest.New(t) // regions "a" and "b"
//		a, b := c.Region("a"), c.Region("b")
//		// ... start the code under test on a.Pool and b.Pool ...
//
//		b.Proxy.Blackhole() // region b goes dark
//		// ... writes to b now fail by their deadlines; a must carry on ...
//		b.Proxy.Heal() // b returns
//		// ... check with a.Direct and b.Direct that both converged ...
//	}
//
// # A program
//
// Examples, benchmarks and drills open the same regions without a test,
// on the server they are given, and close them when done:
//
//	c, err := regiontest.Open(ctx, dsn, regiontest.WithRegions("east", "west"), regiontest.WithPoolSize(64))
//	if err != nil {
//		return err // unreachable server, bad DSN (shown with its password hidden)
//	}
//	defer c.Close() // drops the databases
//	west := c.Region("west")
//	west.Proxy.SetLatency(35 * time.Millisecond)
//
// # What each region has
//
// New and Open create one Region per name (default "a" and "b"; see
// Regions):
//
//   - DBName: a database of its own, "xr_test_" and random hex, created on
//     the server (DSN() for New) for this cluster only.
//   - Proxy: a TCP Proxy in front of that database.
//   - Pool: a pgxpool that connects through the Proxy. Hand it to the code
//     under test; every fault lands on it.
//   - Direct: a pgxpool that bypasses the Proxy, for setting up and for
//     checking what really reached the database while or after a fault is
//     injected.
//   - Wall: a SkewClock, the system clock plus an offset you set.
//   - Clock: an xregion.Clock (HLC) reading Wall, with the default maximum
//     offset. Give it to the code under test as the region's clock.
//   - Kafka and KafkaBrokers: a kfake cluster on real TCP ports, started the
//     first time either is called (regions that do not use Kafka run no
//     broker), with one broker and topics created on first use with one
//     partition, as a stock broker would. Clients such as kafka-go talk to it
//     exactly as to a production cluster. Kafka traffic does not go through
//     the Proxy; KafkaLink injects its faults (Blackhole, Heal, Reset)
//     inside the brokers' listeners instead, since Kafka brokers advertise
//     their own addresses and a proxy in front of them would be bypassed.
//
// Pools hold at most MaxConns (8) connections unless WithPoolSize says
// otherwise, because many tests across packages share one server, and each
// connection attempt is bounded by ConnectTimeout (5 s) unless the DSN sets
// connect_timeout.
//
// # Faults and what they stand for
//
// The Proxy forwards bytes for real, so a fault produces the same errors and
// timeouts a client sees in production:
//
//   - SetLatency is distance. Each direction is delayed by the given one-way
//     latency, so a query round trip costs twice that (SetLatency(35ms) is
//     roughly Virginia to Oregon). The delay is pipelined: chunks are
//     stamped on arrival and delivered when their time comes, so latency
//     slows every exchange without capping throughput, as on a long cable.
//   - Blackhole is a network split, or a region gone dark. Open and new
//     connections stay up but nothing is forwarded: queries hang until their
//     context deadline (a connection attempt until ConnectTimeout), with no
//     error from the network, because packets that vanish produce none.
//     Always give queries a deadline in such a test.
//   - Heal ends the split: held bytes are delivered, as TCP would
//     retransmit them, so a write that timed out on the client may still
//     commit on the server. That is the "outcome unknown" case a replicator
//     must report honestly; check it through Direct.
//   - Reset is a crash of the connections (a database failover, a middlebox
//     restart): every open connection is dropped with a TCP RST on both
//     sides. In-flight queries fail at once; new connections work, so pools
//     reconnect. Idle pooled connections were dropped too: a pool may hand
//     out one of them and fail a query once more unless it checks
//     connections first (pgxpool pings those idle for over a second).
//
// The Proxy is this package's own rather than toxiproxy
// (github.com/Shopify/toxiproxy/v2): toxiproxy's nearest thing to a
// partition, the timeout toxic, drops the bytes it swallows, so the
// connection must be closed when the toxic is removed. A heal there could
// never deliver a write that timed out on the client, and that "outcome
// unknown" case is one the tests built on this package must provoke.
//
// KafkaLink.Watch shows what the brokers saw: every request as a broker
// reads it and every answer it writes, decoded (kmsg) and in the order they
// happened, so a test can check what a broker accepted, not only what a
// client sent, and what the broker knew when it did.
//
// Clock faults come from Wall: SetOffset within the HLC's maximum offset
// models ordinary skew; beyond it, xregion.Clock.Update refuses the other
// regions' timestamps with an xregion.ClockOffsetError.
//
// # The PostgreSQL server
//
// Tests use the server at XREGION_TEST_PG, or DefaultDSN
// (postgres://postgres@127.0.0.1:5432/postgres) when it is unset. The DSN
// names a database to connect to for administration; its user must be
// allowed to create databases. Database and New read it on each call.
//
// When the server cannot be reached, Database and New skip the test with one
// line that names the DSN (password hidden) and XREGION_TEST_PG, so "go test
// ./..." works on a machine without PostgreSQL. Under CI=true or
// XREGION_REQUIRE_PG=1 they fail the test instead, so a CI run cannot pass by
// skipping everything. A DSN that does not parse fails the test.
//
// No output shows a DSN's password: every message names the DSN through
// Redact, which hides passwords in either form and, where a malformed DSN
// leaves unclear where one ends, hides more rather than guess. pgx's own
// messages can quote pieces of a malformed DSN, so code of your own that
// prints one should parse it with ParseDSN and name it with Redact.
//
// # A restore onto another server
//
// NewServer starts a PostgreSQL cluster for one test, made by initdb with
// the programs beside the server at DSN(): a server a region is restored
// onto after its own is lost, whose transaction ids start again and whose
// system identifier is new. DumpRestore copies a database into another, on
// any server, with pg_dump and psql, as an operator restores a region from
// a logical dump. Both skip the test where the programs are not at hand.
//
// # Cleanup
//
// A test's cluster is released through t.Cleanup, a program's by Close:
// first the Kafka clusters, then each region (the last named first) in this
// order: its proxy, closing every connection through it, the proxied pool,
// the direct pool, and the database, dropped WITH (FORCE) so sessions left
// behind do not keep it alive. The code under test only has to release what
// it acquired itself: a pool's Close waits for connections still acquired
// from it.
//
// # Hazards
//
// HAZARD: Database, New, and a test cluster's Region and Kafka end the
// test on failure (t.Skip or t.Fatal), so call them from the test's goroutine.
//
// HAZARD: Latency and blackholes apply only to the Pool's connections to its
// database. Code that opens its own connections from DBName or DSN bypasses
// the faults; give it Pool.
//
// HAZARD: Latency uses the real clock, never Wall, so skewing a region's
// clock does not change its latency, and tests with latency take real time.
// Keep latencies small (tens of milliseconds) and exchanges few.
package regiontest
