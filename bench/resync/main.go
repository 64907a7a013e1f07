// Command resync measures a failback (package resync) on PostgreSQL against
// the plain way of bringing a region back: copying the whole table.
//
// Region a and region b are two databases created on one server for the
// run. The process plays region a: its store is on a's database directly,
// b's is reached through b's regiontest.Proxy, which adds -latency each way
// while the figures are taken and counts the bytes it carries, both ways:
// the bytes on the wire between the regions.
//
// The regions start equal: -keys records of 100-byte values, written in a
// and replicated to b through the proxy (without latency while loading),
// b's watermark for a at a's head and a's for b at b's; then a retention
// run, as replicate.WithRetention would have made, and VACUUM ANALYZE, as
// autovacuum would have done. Then the regions split and diverge on
// -divergent of the keys: a third written in a only (a's unshipped
// writes), a third in b only, a third in both (concurrent writes, each
// region's winning half of them under last-write-wins). Each write is
// stamped by its region's clock after the version it read, as a service
// would.
//
// Four things are timed, each with the proxy's counters reset before:
//
//   - resync: resync.Run(a, b) in its default mode, which finds the keys
//     that differ in the changelogs, applies, and verifies by digests
//     (resync_s, resync_bytes, moved_records: records applied both ways),
//     over the pool that replicated a's writes to b, as a process that
//     replicates to b would run it.
//   - the same on a fresh divergence from a pool new to b, as the
//     command-line tool runs it: its connections prepare every statement
//     and their server processes read the catalog for the first time
//     (fresh_s, fresh_bytes).
//   - digests only: resync.Run with WithDigestsOnly on a fresh divergence of
//     as many other keys, finding them by comparing range digests
//     (digest_s, digest_bytes, digest_moved_records).
//   - full copy: COPY (SELECT the record's columns) TO STDOUT of b's table
//     through the proxy, streamed through a pipe into COPY … FROM STDIN of
//     a fresh table in a's database with the same columns and primary key
//     (copy_s, copy_bytes). -copy-format picks PostgreSQL's binary or text
//     format; binary is the smaller.
//
// A CHECKPOINT comes before each, so that none pays for the pages the one
// before it dirtied. A resync's time is split into plan, apply and verify
// by the progress it reports (the verify's share includes moving the
// watermarks), and each store call it makes is timed, per region, to show
// where the time goes: in the database or on the link.
//
// The goals of issue 12: a resync moves at most 2 % of the full copy's
// bytes, takes a tenth of its time or less, and moves at most 1.05 records
// per key that differs. The proxy adds latency but has no bandwidth limit:
// a link that has one stretches the copy's time with its bytes, and the
// resync's far less.
//
//	go run ./bench/resync
//	go run ./bench/resync -keys 100000 -json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bench/internal/cpuprof"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/pgstore"
)

type config struct {
	dsn        string
	keys       int
	divergent  float64 // share of the keys that differ
	latency    time.Duration
	workers    int
	copyFormat string
	seed       uint64
	json       bool
}

func (c config) validate() error {
	switch {
	case c.keys < 3:
		return fmt.Errorf("-keys %d: want at least 3", c.keys)
	case c.divergent <= 0 || c.divergent > 0.2:
		return fmt.Errorf("-divergent %g: want a share above 0 and at most 0.2 (three divergences of it are made)", c.divergent)
	case c.latency < 0:
		return fmt.Errorf("-latency %s: want 0 or more", c.latency)
	case c.workers < 1 || c.workers > 64:
		return fmt.Errorf("-workers %d: want 1 to 64", c.workers)
	case c.copyFormat != "binary" && c.copyFormat != "text":
		return fmt.Errorf("-copy-format %q: want binary or text", c.copyFormat)
	}
	return nil
}

const (
	table     = "items"
	valueSize = 100
	loadBatch = 5000 // records per Store.Apply while loading

	// visibleWithin is how long the run waits for transactions of other
	// programs on the server to end (see visible).
	visibleWithin = 2 * time.Minute
)

func main() {
	var cfg config
	flag.StringVar(&cfg.dsn, "dsn", regiontest.DSN(), "PostgreSQL server to create the regions' databases on (default: $XREGION_TEST_PG or the test server)")
	flag.IntVar(&cfg.keys, "keys", 1_000_000, "records in the table")
	flag.Float64Var(&cfg.divergent, "divergent", 0.001, "share of the keys that differ when the regions meet again")
	flag.DurationVar(&cfg.latency, "latency", 5*time.Millisecond, "one-way delay between the regions while measuring")
	flag.IntVar(&cfg.workers, "workers", 4, "batches written at once while loading")
	flag.StringVar(&cfg.copyFormat, "copy-format", "binary", "format of the full copy's COPY: binary or text")
	flag.Uint64Var(&cfg.seed, "seed", 12, "seed of the values and of the keys that differ")
	flag.BoolVar(&cfg.json, "json", false, "print the figures as one JSON object")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "resync:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stopProfile, err := cpuprof.Start(*profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "resync:", err)
		os.Exit(1)
	}
	err = run(ctx, os.Stdout, cfg)
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "resync:", err)
		os.Exit(1)
	}
}

// figures are what the run found; the JSON object.
type figures struct {
	Keys               int     `json:"keys"`
	Divergent          int     `json:"divergent"` // keys made to differ, in each of the three divergences
	ResyncS            float64 `json:"resync_s"`
	ResyncBytes        int64   `json:"resync_bytes"`
	MovedRecords       int     `json:"moved_records"`
	FreshS             float64 `json:"fresh_s"` // the default mode again, on connections new to b
	FreshBytes         int64   `json:"fresh_bytes"`
	DigestS            float64 `json:"digest_s"`
	DigestBytes        int64   `json:"digest_bytes"`
	DigestMovedRecords int     `json:"digest_moved_records"`
	CopyS              float64 `json:"copy_s"`
	CopyBytes          int64   `json:"copy_bytes"`
	CopyRecords        int64   `json:"copy_records"`
	Verified           bool    `json:"verified"` // both resyncs verified the regions equal
}

// measured is one timed resync.
type measured struct {
	took       time.Duration
	toB, fromB int64 // bytes through b's proxy
	moved      int
	differ     int
	conflicts  int
	equal      bool
	repaired   bool
	phases     [3]time.Duration // plan, apply, verify (with the watermark moves)
	verifyErr  error
}

func (m measured) bytes() int64 { return m.toB + m.fromB }

func run(ctx context.Context, out io.Writer, cfg config) error {
	say := func(format string, args ...any) {
		if !cfg.json {
			fmt.Fprintf(out, format, args...)
		}
	}
	c, err := regiontest.Open(ctx, cfg.dsn, regiontest.WithPoolSize(int32(max(cfg.workers, 4))))
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "resync: close regions:", err)
		}
	}()
	ra, rb := c.Region("a"), c.Region("b")
	var version string
	if err := ra.Direct.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	version, _, _ = strings.Cut(version, " ")

	// a's store, b's store for b's own processes (direct), and b's as a
	// reaches it, through the proxy; each region's resolver on its clock.
	resolvers := map[xregion.Region]xregion.Resolver{}
	open := func(r *regiontest.Region, pool *pgxpool.Pool) (*pgstore.Store, error) {
		if resolvers[r.Name] == nil {
			res, err := lww.New(r.Clock)
			if err != nil {
				return nil, err
			}
			resolvers[r.Name] = res
		}
		st, err := pgstore.New(ctx, pool, r.Name)
		if err != nil {
			return nil, fmt.Errorf("open store of %s: %w", r.Name, err)
		}
		return st, st.DefineTable(ctx, table, resolvers[r.Name])
	}
	aStore, err := open(ra, ra.Direct)
	if err != nil {
		return err
	}
	bLocal, err := open(rb, rb.Direct)
	if err != nil {
		return err
	}
	bRemote, err := open(rb, rb.Pool)
	if err != nil {
		return err
	}
	a := region{name: ra.Name, store: aStore, pool: ra.Direct, clock: ra.Clock}
	b := region{name: rb.Name, store: bLocal, pool: rb.Direct, clock: rb.Clock}
	tables := []resync.Table{{Name: table, A: resolvers[a.name], B: resolvers[b.name]}}
	ta, tb := newTimed(aStore, nil), newTimed(bRemote, rb.Proxy)

	f := figures{Keys: cfg.keys, Divergent: max(1, int(float64(cfg.keys)*cfg.divergent+0.5))}
	say("resync on PostgreSQL %s: region a direct, region b through a proxy, %s each way while measuring\n", version, cfg.latency)
	say("%s keys of %d-byte values; %s of them differ (a third changed in a, a third in b, a third in both)\n\n",
		thousands(int64(cfg.keys)), valueSize, thousands(int64(f.Divergent)))

	keys := make([]string, cfg.keys)
	width := len(strconv.Itoa(cfg.keys - 1))
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%0*d", width, i)
	}
	start := time.Now()
	// b receives a's writes through the link, as from a's replicator: the
	// connections the resync then uses to reach b are those replication
	// used, as in a process that replicates to b (a service, the drill,
	// examples/failback). The proxy adds no latency while loading.
	viaLink := b
	viaLink.store = bRemote
	if err := load(ctx, a, viaLink, keys, cfg.workers, cfg.seed); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	say("  loaded   %s records in both regions in %.1f s\n", thousands(int64(cfg.keys)), time.Since(start).Seconds())
	// A retention run, as replicate.WithRetention makes every few minutes:
	// among what it keeps bounded, the stores fold the range sums of the
	// digests (a delta per written statement and bucket) into a row per
	// bucket. It collects no tombstone: there is none. Then VACUUM ANALYZE,
	// as autovacuum would do after the load and the fold.
	start = time.Now()
	for _, st := range []*pgstore.Store{aStore, bLocal} {
		if _, err := st.CollectTombstones(ctx, xregion.Timestamp{}, 1); err != nil {
			return fmt.Errorf("retention: %w", err)
		}
	}
	for _, p := range []*pgxpool.Pool{ra.Direct, rb.Direct} {
		if _, err := p.Exec(ctx, `VACUUM ANALYZE`); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	say("  retain   a retention run, then VACUUM ANALYZE, in both regions in %.1f s\n", time.Since(start).Seconds())

	rng := rand.New(rand.NewPCG(cfg.seed, 0))
	taken := map[int]bool{}
	measure := func(name string, tb *timed, bPool *pgxpool.Pool, opts ...resync.Option) (measured, error) {
		d, err := pick(rng, keys, f.Divergent, taken)
		if err != nil {
			return measured{}, err
		}
		if err := diverge(ctx, a, b, d, rng); err != nil {
			return measured{}, fmt.Errorf("diverge: %w", err)
		}
		if _, err := ra.Direct.Exec(ctx, "CHECKPOINT"); err != nil {
			return measured{}, fmt.Errorf("checkpoint: %w", err)
		}
		if err := visible(ctx, ra.Direct); err != nil {
			return measured{}, err
		}
		rb.Proxy.SetLatency(cfg.latency)
		defer rb.Proxy.SetLatency(0)
		if err := warm(ctx, bPool); err != nil {
			return measured{}, err
		}
		ta.reset()
		tb.reset()
		runtime.GC() // the load's garbage is not the resync's to collect
		m, err := timeRun(ctx, ta, tb, tables, rb.Proxy, opts...)
		if err != nil {
			return m, fmt.Errorf("%s: %w", name, err)
		}
		say("\n%s: %.3f s (plan %.3f, apply %.3f, verify %.3f), %s bytes to b and %s from b; %d keys differed, %d records moved, %d conflicts; regions equal: %t\n",
			name, m.took.Seconds(), m.phases[0].Seconds(), m.phases[1].Seconds(), m.phases[2].Seconds(),
			thousands(m.toB), thousands(m.fromB), m.differ, m.moved, m.conflicts, m.equal)
		if m.repaired {
			say("    (the changelogs missed keys: Run repaired from digests)\n")
		}
		if m.verifyErr != nil {
			say("    %v\n", m.verifyErr)
		}
		if !cfg.json {
			ta.print(out)
			tb.print(out)
		}
		return m, nil
	}
	def, err := measure("resync (changelogs)", tb, rb.Pool)
	if err != nil {
		return err
	}
	// The same from a process that never reached b before, as the
	// command-line tool is: a new pool, whose connections have prepared
	// nothing and whose server processes have read nothing of the tables.
	freshPool, err := pgxpool.NewWithConfig(ctx, rb.Pool.Config())
	if err != nil {
		return fmt.Errorf("fresh pool: %w", err)
	}
	defer freshPool.Close()
	bFresh, err := open(rb, freshPool)
	if err != nil {
		return err
	}
	fresh, err := measure("resync (changelogs) on fresh connections", newTimed(bFresh, rb.Proxy), freshPool)
	if err != nil {
		return err
	}
	dig, err := measure("resync (digests only)", tb, rb.Pool, resync.WithDigestsOnly())
	if err != nil {
		return err
	}
	f.ResyncS, f.ResyncBytes, f.MovedRecords = def.took.Seconds(), def.bytes(), def.moved
	f.FreshS, f.FreshBytes = fresh.took.Seconds(), fresh.bytes()
	f.DigestS, f.DigestBytes, f.DigestMovedRecords = dig.took.Seconds(), dig.bytes(), dig.moved
	f.Verified = def.equal && fresh.equal && dig.equal

	if _, err := ra.Direct.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	rb.Proxy.SetLatency(cfg.latency)
	if err := warm(ctx, rb.Pool); err != nil {
		return err
	}
	runtime.GC()
	rb.Proxy.ResetCarried()
	rows, took, err := fullCopy(ctx, rb.Pool, ra.Direct, pgx.Identifier{bRemote.Schema(), table}.Sanitize(), cfg.copyFormat)
	toB, fromB := rb.Proxy.Carried()
	rb.Proxy.SetLatency(0)
	if err != nil {
		return fmt.Errorf("full copy: %w", err)
	}
	f.CopyS, f.CopyBytes, f.CopyRecords = took.Seconds(), toB+fromB, rows
	say("\nfull copy (COPY, %s): %.3f s, %s bytes to b and %s from b, %s rows\n\n",
		cfg.copyFormat, took.Seconds(), thousands(toB), thousands(fromB), thousands(rows))

	if cfg.json {
		if err := json.NewEncoder(out).Encode(f); err != nil {
			return err
		}
	} else {
		printTable(out, cfg, f, def, fresh, dig)
	}
	if !f.Verified {
		return errors.New("a resync did not leave the regions equal")
	}
	return nil
}

// timeRun times resync.Run between a and b, counting the bytes through
// b's proxy, and splits its time into phases by its progress reports: the
// plan ends at the first report of the apply, the apply at its last.
func timeRun(ctx context.Context, a, b *timed, tables []resync.Table, proxy *regiontest.Proxy, opts ...resync.Option) (measured, error) {
	var firstApply, lastApply time.Time
	opts = append(opts, resync.WithProgress(func(p resync.Progress) {
		if p.Phase == "apply" {
			if firstApply.IsZero() {
				firstApply = time.Now()
			}
			lastApply = time.Now()
		}
	}))
	proxy.ResetCarried()
	start := time.Now()
	rep, err := resync.Run(ctx, a, b, tables, opts...)
	end := time.Now()
	var m measured
	m.toB, m.fromB = proxy.Carried()
	m.took = end.Sub(start)
	m.equal = err == nil
	if errors.Is(err, resync.ErrNotEqual) {
		m.verifyErr, err = err, nil
	}
	if err != nil {
		return m, err
	}
	if firstApply.IsZero() {
		firstApply, lastApply = end, end
	}
	m.phases = [3]time.Duration{firstApply.Sub(start), lastApply.Sub(firstApply), end.Sub(lastApply)}
	m.moved = rep.Applied.ToA + rep.Applied.ToB
	m.repaired = rep.Repair != nil
	for _, t := range rep.Plan.Tables {
		m.differ += t.Differ
		m.conflicts += t.ConflictCount
	}
	return m, nil
}

// warm opens a few of the pool's connections through the proxy and leaves
// them idle, so that a measurement does not pay for connecting.
func warm(ctx context.Context, pool *pgxpool.Pool) error {
	const n = 2
	var wg sync.WaitGroup
	errs := make([]error, n)
	conns := make([]*pgxpool.Conn, n)
	for i := range n {
		wg.Go(func() {
			conns[i], errs[i] = pool.Acquire(ctx)
			if errs[i] == nil {
				errs[i] = conns[i].Ping(ctx)
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			c.Release()
		}
	}
	return errors.Join(errs...)
}

func printTable(out io.Writer, cfg config, f figures, def, fresh, dig measured) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "what\tseconds\tbytes on the wire\trecords moved\ttime / copy's\tbytes / copy's\t\n")
	row := func(what string, s float64, bytes int64, moved int64) {
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%s\t%.1f %% (%.1f× faster)\t%.2f %%\t\n", what, s, thousands(bytes), thousands(moved),
			100*s/f.CopyS, f.CopyS/s, 100*float64(bytes)/float64(f.CopyBytes))
	}
	row("resync (changelogs)", f.ResyncS, f.ResyncBytes, int64(f.MovedRecords))
	row("  on fresh connections", f.FreshS, f.FreshBytes, int64(fresh.moved))
	row("resync (digests only)", f.DigestS, f.DigestBytes, int64(f.DigestMovedRecords))
	fmt.Fprintf(tw, "full copy (COPY, %s)\t%.3f\t%s\t%s\t\t\t\n", cfg.copyFormat, f.CopyS, thousands(f.CopyBytes), thousands(f.CopyRecords))
	tw.Flush()

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(out, "\ngoals (resync in its default mode; digests only in brackets)\n")
	defer fmt.Fprintf(out, "  (the default mode on fresh connections: %.1f× faster than the copy, %.2f %% of its bytes)\n",
		f.CopyS/f.FreshS, 100*float64(f.FreshBytes)/float64(f.CopyBytes))
	fmt.Fprintf(out, "  bytes at most 2 %% of the copy's: %s (%.2f %%) [%s, %.2f %%]\n",
		verdict(f.ResyncBytes*50 <= f.CopyBytes), 100*float64(f.ResyncBytes)/float64(f.CopyBytes),
		verdict(f.DigestBytes*50 <= f.CopyBytes), 100*float64(f.DigestBytes)/float64(f.CopyBytes))
	fmt.Fprintf(out, "  at least 10× faster than the copy: %s (%.1f×) [%s, %.1f×]\n",
		verdict(f.CopyS >= 10*f.ResyncS), f.CopyS/f.ResyncS, verdict(f.CopyS >= 10*f.DigestS), f.CopyS/f.DigestS)
	fmt.Fprintf(out, "  records moved at most 1.05 × keys that differ: %s (%d for %d) [%s, %d for %d]\n",
		verdict(float64(f.MovedRecords) <= 1.05*float64(f.Divergent)), f.MovedRecords, f.Divergent,
		verdict(float64(f.DigestMovedRecords) <= 1.05*float64(f.Divergent)), f.DigestMovedRecords, f.Divergent)
	fmt.Fprintf(out, "  regions equal after each resync: %t (%t, %t, %t)\n", f.Verified, def.equal, fresh.equal, dig.equal)
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
