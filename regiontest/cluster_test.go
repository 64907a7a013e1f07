package regiontest_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
)

func TestNew_DefaultRegions(t *testing.T) {
	t.Parallel()
	c := regiontest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var names []xregion.Region
	dbs := map[string]bool{}
	for _, r := range c.Regions() {
		names = append(names, r.Name)
		require.Same(t, r, c.Region(r.Name))
		require.True(t, strings.HasPrefix(r.DBName, "xr_test_"), r.DBName)
		dbs[r.DBName] = true

		var viaProxy, direct string
		require.NoError(t, r.Pool.QueryRow(ctx, "SELECT current_database()").Scan(&viaProxy))
		require.NoError(t, r.Direct.QueryRow(ctx, "SELECT current_database()").Scan(&direct))
		require.Equal(t, r.DBName, viaProxy)
		require.Equal(t, r.DBName, direct)
		require.Equal(t, r.Proxy.Addr(), net.JoinHostPort(r.Pool.Config().ConnConfig.Host,
			itoa(r.Pool.Config().ConnConfig.Port)), "Pool connects through the proxy")
		require.NotEqual(t, r.Proxy.Addr(), net.JoinHostPort(r.Direct.Config().ConnConfig.Host,
			itoa(r.Direct.Config().ConnConfig.Port)), "Direct bypasses it")
		require.LessOrEqual(t, r.Pool.Config().MaxConns, int32(regiontest.MaxConns))
		require.Equal(t, regiontest.ConnectTimeout, r.Pool.Config().ConnConfig.ConnectTimeout)
	}
	require.Equal(t, []xregion.Region{"a", "b"}, names)
	require.Len(t, dbs, 2, "each region has a database of its own")
}

func TestNew_Regions(t *testing.T) {
	t.Parallel()
	want := []xregion.Region{"us-east-1", "eu-west-1", "ap-south-1"}
	c := regiontest.New(t, regiontest.WithRegions(want...))
	var got []xregion.Region
	for _, r := range c.Regions() {
		got = append(got, r.Name)
	}
	require.Equal(t, want, got, "in the order given")
}

func TestNew_InvalidOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  regiontest.Option
		want string
	}{
		{"no regions", regiontest.WithRegions(), "no regions"},
		{"invalid name", regiontest.WithRegions("a", "US East"), `"US East"`},
		{"duplicate", regiontest.WithRegions("a", "b", "a"), `"a" named twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skipped, failed := catch(t, func(tb testing.TB) { regiontest.New(tb, tc.opt) }).result()
			require.Empty(t, skipped)
			require.Contains(t, failed, tc.want)
		})
	}
}

func TestCluster_Region_Unknown(t *testing.T) {
	t.Parallel()
	var c *regiontest.Cluster
	r := catch(t, func(tb testing.TB) {
		c = regiontest.New(tb, regiontest.WithRegions("a"))
		c.Region("nowhere")
	})
	skipped, failed := r.result()
	if skipped != "" {
		t.Skip(skipped)
	}
	require.Contains(t, failed, `no region "nowhere"`)
	require.Contains(t, failed, "[a]", "names the regions there are")
}

func TestRegion_Latency(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT 1").Scan(&n), "warm up: connect and prepare")

	const oneWay = 20 * time.Millisecond
	a.Proxy.SetLatency(oneWay)
	start := time.Now()
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT 1").Scan(&n))
	require.GreaterOrEqual(t, time.Since(start), 2*oneWay, "a query costs at least one round trip")
}

func TestRegion_Blackhole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		warm bool // the pool holds an open connection when the split starts
	}{
		{"open connection", true},
		{"new connection", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
			var n int
			if tc.warm {
				require.NoError(t, a.Pool.QueryRow(context.Background(), "SELECT 1").Scan(&n))
			}

			a.Proxy.Blackhole()
			const deadline = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := a.Pool.QueryRow(ctx, "SELECT 1").Scan(&n)
			elapsed := time.Since(start)
			require.ErrorIs(t, err, context.DeadlineExceeded, "the query ends by its deadline")
			require.GreaterOrEqual(t, elapsed, deadline, "it hung until the deadline: nothing failed fast")
			require.Less(t, elapsed, 3*time.Second, "and no longer")

			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, a.Direct.QueryRow(ctx, "SELECT 1").Scan(&n), "Direct bypasses the proxy")

			a.Proxy.Heal()
			require.NoError(t, a.Pool.QueryRow(ctx, "SELECT 1").Scan(&n), "queries succeed after Heal")
		})
	}
}

func TestRegion_Reset(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	errc := make(chan error, 1)
	go func() {
		_, err := a.Pool.Exec(ctx, "SELECT pg_sleep(60)")
		errc <- err
	}()
	require.Eventually(t, func() bool {
		var running bool
		err := a.Direct.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'SELECT pg_sleep%')`,
			a.DBName).Scan(&running)
		return err == nil && running
	}, 10*time.Second, 10*time.Millisecond, "the query is running")

	start := time.Now()
	a.Proxy.Reset()
	err := <-errc
	require.Error(t, err, "the query in flight fails")
	require.NotErrorIs(t, err, context.DeadlineExceeded, "because the connection dropped, not by a deadline")
	require.Less(t, time.Since(start), 10*time.Second)

	var n int
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT 1").Scan(&n), "the pool reconnects")
}

func TestRegion_Clock(t *testing.T) {
	t.Parallel()
	c := regiontest.New(t)
	a, b := c.Region("a"), c.Region("b")
	require.NotSame(t, a.Wall, b.Wall, "each region has a clock of its own")

	a.Wall.SetOffset(xregion.DefaultMaxOffset / 2)
	require.InDelta(t, time.Now().Add(xregion.DefaultMaxOffset/2).UnixNano(), a.Clock.Now().WallTime, float64(100*time.Millisecond),
		"the HLC reads the region's skewed wall clock")
	require.Equal(t, xregion.DefaultMaxOffset, a.Clock.MaxOffset())
	require.NoError(t, b.Clock.Update(a.Clock.Now()), "skew within the maximum offset is tolerated")

	// An hour ahead: b refuses a's timestamps. (Not the other way round
	// afterwards: a's HLC never goes back, whatever its wall clock does.)
	a.Wall.SetOffset(time.Hour)
	require.ErrorIs(t, b.Clock.Update(a.Clock.Now()), xregion.ErrClockOffset)
}

func TestRegion_Kafka(t *testing.T) {
	t.Parallel()
	c := regiontest.New(t)
	a, b := c.Region("a"), c.Region("b")

	brokers := a.KafkaBrokers()
	require.Len(t, brokers, 1)
	require.Same(t, a.Kafka(), a.Kafka(), "started once")
	require.Equal(t, brokers, a.KafkaBrokers())
	require.NotEqual(t, brokers, b.KafkaBrokers(), "each region has a cluster of its own")

	conn, err := net.DialTimeout("tcp", brokers[0], 5*time.Second)
	require.NoError(t, err, "a real TCP listener")
	require.NoError(t, conn.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  "orders",
		AllowAutoTopicCreation: true,
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           time.Millisecond,
	}
	defer w.Close()
	require.NoError(t, w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}))

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "orders", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "k", string(m.Key))
	require.Equal(t, "v", string(m.Value))
}

func TestExample_RegionLoss(t *testing.T) {
	t.Parallel()
	regionLoss(t)
}

func itoa(port uint16) string { return strconv.Itoa(int(port)) }

// Open builds the same regions for a program, without a test: it reports
// errors instead of failing one, and Close drops what it made.
func TestOpen(t *testing.T) {
	regiontest.Database(t) // skips, or fails under CI, where there is no PostgreSQL
	ctx := t.Context()
	c, err := regiontest.Open(ctx, regiontest.DSN(), regiontest.WithRegions("east", "west"), regiontest.WithPoolSize(2))
	require.NoError(t, err)
	east := c.Region("east")
	require.NotNil(t, east)
	require.Nil(t, c.Region("nowhere"), "a program's cluster answers nil, it has no test to fail")
	var one int
	require.NoError(t, east.Pool.QueryRow(ctx, "SELECT 1").Scan(&one), "through the proxy")
	require.EqualValues(t, 2, east.Pool.Config().MaxConns)
	brokers := east.KafkaBrokers()
	require.NotEmpty(t, brokers)
	dbs := []string{east.DBName, c.Region("west").DBName}
	require.NoError(t, c.Close())
	for _, db := range dbs {
		require.False(t, databaseExists(t, db), "Close dropped %s", db)
	}

	_, err = regiontest.Open(ctx, "postgres://u:s3cret@127.0.0.1:1/postgres")
	require.Error(t, err, "an unreachable server is an error")
	require.NotContains(t, err.Error(), "s3cret")
	_, err = regiontest.Open(ctx, regiontest.DSN(), regiontest.WithRegions())
	require.ErrorContains(t, err, "no regions")
}

// A Node's two stores are one region's database: what is written locally is
// read through the proxy, and a blackhole stops only the remote one.
func TestNodes(t *testing.T) {
	t.Parallel()
	ns := regiontest.Nodes(t, regiontest.WithRegions("a"))
	require.Len(t, ns, 1)
	a := ns[0]
	ctx := t.Context()
	require.Equal(t, xregion.Region("a"), a.Local.Region())
	require.NoError(t, a.Local.DefineTable(ctx, "t", xregion.ResolverFunc(func(_, in xregion.Record) (xregion.Resolution, error) {
		return xregion.Resolution{Record: in, Changed: true}, nil
	})))
	v, err := a.Clock.Stamp(a.Name, xregion.Version{})
	require.NoError(t, err)
	_, err = a.Local.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "t", Record: xregion.Record{Key: "k", Value: []byte("v"), Version: v}}}})
	require.NoError(t, err)
	b, err := a.Remote.Backlog(ctx, xregion.Position{}, "a")
	require.NoError(t, err)
	require.EqualValues(t, 1, b.Changes, "the same database through the proxy")

	a.Proxy.Blackhole()
	defer a.Proxy.Heal()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = a.Remote.Backlog(short, xregion.Position{}, "a")
	require.Error(t, err, "the remote store is behind the proxy")
	_, err = a.Local.Backlog(ctx, xregion.Position{}, "a")
	require.NoError(t, err, "the local one is not")
}
