// Command async measures the asynchronous replicator (replicate.Async,
// Tier 2) on PostgreSQL: how fast a region that was cut off catches up, and
// what the live RPO is under a steady load.
//
// Region a and region b are two databases created on one server for the
// run; b is reached through a regiontest.Proxy (-delay adds latency each
// way).
//
// Drain. The proxy blackholes b while -backlog writes commit in a, each a
// single-record Async.Write from one of -writers concurrent writers
// (concurrent writes share a's transactions, as in any service using
// Async). Then b returns, and the clock runs until b's watermark
// for a reaches the last of those writes: drain_rows_per_s is backlog_rows /
// drain_s. The shipper's time is split between reading a's changelog
// (Store.Changes) and applying batches in b (Store.Apply), which says where
// a slow drain spends its time.
//
// Steady. -rate writes per second for -steady, b up, after a CHECKPOINT
// that writes out the pages the drain dirtied (else their write-out stalls
// the steady phase's commits for hundreds of milliseconds, a cost of the
// drain). The RPO is taken two ways:
//
//   - rpo_p50_ms, rpo_p99_ms: the live RPO as Async.Lag reports it (the age
//     of the oldest change a holds that b has not applied; 0 when b has them
//     all), sampled every 50 ms: what an operator's dashboard would show.
//   - delay_p50_ms, delay_p99_ms: measured after the run, for every write,
//     from its entry in a's changelog to the same write's entry in b's
//     changelog (Change.Time of both; the two databases share one server and
//     its clock). It is how long each write could have been lost.
//
// A live RPO sampled at random moments is often lower than the typical
// write's delay, since b may have caught up when the sample is taken; its
// p99 is the figure to hold against a target.
//
//	go run ./bench/async
//	go run ./bench/async -backlog 50000 -steady 5s -json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bench/internal/cpuprof"
	"github.com/xregion/xregion/bench/internal/pgregions"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/pgstore"
)

type config struct {
	dsn     string
	backlog int           // writes committed while b is dark; 0 skips the drain
	writers int           // concurrent writers
	batch   int           // replicate.WithBatchSize
	rate    int           // steady writes per second
	steady  time.Duration // how long the steady load runs; 0 skips it
	delay   time.Duration // one way, between a and b
	json    bool
}

func (c config) validate() error {
	switch {
	case c.backlog < 0:
		return fmt.Errorf("-backlog %d: want 0 (skip the drain) or more", c.backlog)
	case c.writers < 1 || c.writers > 256:
		return fmt.Errorf("-writers %d: want 1 to 256", c.writers)
	case c.batch < 1 || c.batch > xregion.MaxChangeLimit:
		return fmt.Errorf("-batch %d: want 1 to %d", c.batch, xregion.MaxChangeLimit)
	case c.rate < 1:
		return fmt.Errorf("-rate %d: want at least 1 write per second", c.rate)
	case c.steady < 0 || c.delay < 0:
		return errors.New("-steady and -delay cannot be negative")
	case c.backlog == 0 && c.steady == 0:
		return errors.New("-backlog 0 and -steady 0: nothing to measure")
	}
	return nil
}

const (
	table     = "inventory"
	valueSize = 100
	lagEvery  = 50 * time.Millisecond
)

func main() {
	var cfg config
	flag.StringVar(&cfg.dsn, "pg", regiontest.DSN(), "PostgreSQL server to create the regions' databases on (default: $XREGION_TEST_PG or the test server)")
	flag.IntVar(&cfg.backlog, "backlog", 200_000, "writes committed in a while b is dark (0 skips the drain)")
	flag.IntVar(&cfg.writers, "writers", 64, "concurrent writers: enough to offer -rate while each write waits a few ms for its commit (they share transactions)")
	flag.IntVar(&cfg.batch, "batch", 5000, "most changes the shipper sends in one batch (replicate.WithBatchSize)")
	flag.IntVar(&cfg.rate, "rate", 5000, "steady load, writes per second")
	flag.DurationVar(&cfg.steady, "steady", 20*time.Second, "how long the steady load runs (0 skips it)")
	flag.DurationVar(&cfg.delay, "delay", 0, "one-way delay between the regions")
	flag.BoolVar(&cfg.json, "json", false, "print the figures as one JSON object")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "async:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stopProfile, err := cpuprof.Start(*profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "async:", err)
		os.Exit(1)
	}
	defer stopProfile()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "async:", err)
		os.Exit(1)
	}
}

// figures are what the run found; the JSON object.
type figures struct {
	BacklogRows    int     `json:"backlog_rows"`
	DrainS         float64 `json:"drain_s"`
	DrainRowsPerS  float64 `json:"drain_rows_per_s"`
	SteadyWritesPS float64 `json:"steady_writes_per_s"`
	RPOP50MS       float64 `json:"rpo_p50_ms"`
	RPOP99MS       float64 `json:"rpo_p99_ms"`
	DelayP50MS     float64 `json:"delay_p50_ms"`
	DelayP99MS     float64 `json:"delay_p99_ms"`
}

// timed is a pgstore.Store that adds up the time spent in Changes and in
// Apply: the shipper's two halves, reading a's changelog and applying in b.
type timed struct {
	*pgstore.Store
	changes, apply stopwatch
}

// stopwatch adds up the time spent in calls since its last reset; a call
// begun before (held in the blackhole) counts from the reset.
type stopwatch struct{ from, n, total atomic.Int64 }

func (s *stopwatch) reset() { s.n.Store(0); s.total.Store(0); s.from.Store(time.Now().UnixNano()) }
func (s *stopwatch) since(start time.Time) {
	s.n.Add(1)
	s.total.Add(time.Now().UnixNano() - max(start.UnixNano(), s.from.Load()))
}
func (s *stopwatch) String() string {
	n, total := s.n.Load(), time.Duration(s.total.Load())
	if n == 0 {
		return "0 calls"
	}
	return fmt.Sprintf("%.2f s in %d calls, %.1f ms each", total.Seconds(), n, float64(total)/float64(n)/1e6)
}

func (t *timed) Changes(ctx context.Context, q xregion.ChangeQuery) ([]xregion.Change, error) {
	defer t.changes.since(time.Now())
	return t.Store.Changes(ctx, q)
}

func (t *timed) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	defer t.apply.since(time.Now())
	return t.Store.Apply(ctx, b)
}

func run(ctx context.Context, out io.Writer, cfg config) error {
	// Writers share the local committer's transactions (replicate's
	// WithLocalInFlight, 4), so a few connections beyond those serve everything.
	r, err := pgregions.Open(ctx, cfg.dsn, 16)
	if err != nil {
		return err
	}
	defer r.Close()
	r.Proxy.SetLatency(cfg.delay)

	// Each region has its clock; a's stamps the writes and both resolve
	// with their own, as in two processes.
	var (
		stores []*timed
		clocks []*xregion.Clock
	)
	for _, side := range []struct {
		region xregion.Region
		pool   *pgxpool.Pool
	}{{"a", r.A}, {"b", r.B}} {
		clock, err := xregion.NewClock(xregion.SystemClock{})
		if err != nil {
			return err
		}
		st, err := pgstore.New(ctx, side.pool, side.region)
		if err != nil {
			return fmt.Errorf("open store of %s: %w", side.region, err)
		}
		res, err := lww.New(clock)
		if err != nil {
			return err
		}
		if err := st.DefineTable(ctx, table, res); err != nil {
			return err
		}
		stores, clocks = append(stores, &timed{Store: st}), append(clocks, clock)
	}
	a, b, clock := stores[0], stores[1], clocks[0]
	rep, err := replicate.NewAsync(a, clock, []xregion.Store{b}, replicate.WithTier(replicate.Tier2), replicate.WithBatchSize(cfg.batch))
	if err != nil {
		return err
	}
	defer rep.Close()

	var f figures
	say := func(format string, args ...any) {
		if !cfg.json {
			fmt.Fprintf(out, format, args...)
		}
	}
	say("async replication on %s: region a direct, region b through a proxy, %s each way; BatchSize %d, %d writers\n",
		r.Server, cfg.delay, cfg.batch, cfg.writers)
	if cfg.backlog > 0 {
		say("\ndrain\n")
		if err := drain(ctx, cfg, rep, a, b, r.Proxy, &f, say); err != nil {
			return fmt.Errorf("drain: %w", err)
		}
	}
	if cfg.steady > 0 {
		if cfg.backlog > 0 {
			// The drain dirtied hundreds of megabytes of pages; writing
			// them out in the steady phase stalls its commits.
			if err := r.Settle(ctx); err != nil {
				return fmt.Errorf("checkpoint after the drain: %w", err)
			}
		}
		say("\nsteady\n")
		if err := steady(ctx, cfg, rep, a, b, r.A, &f, say); err != nil {
			return fmt.Errorf("steady: %w", err)
		}
	}
	if cfg.json {
		return json.NewEncoder(out).Encode(f)
	}
	say("\ngoals\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	if cfg.backlog > 0 {
		say("  drain at least 150,000 rows/s: %s (%.0f rows/s)\n", verdict(f.DrainRowsPerS >= 150_000), f.DrainRowsPerS)
	}
	if cfg.steady > 0 {
		say("  steady RPO p99 under 100 ms at 5,000 writes/s: %s (Lag p99 %.1f ms, measured p99 %.1f ms, at %.0f writes/s)\n",
			verdict(f.RPOP99MS < 100 && f.DelayP99MS < 100 && f.SteadyWritesPS >= 0.98*5000), f.RPOP99MS, f.DelayP99MS, f.SteadyWritesPS)
	}
	return nil
}

// caughtUp waits until b has applied everything a holds.
func caughtUp(ctx context.Context, rep *replicate.Async, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		lags, err := rep.Lag(ctx)
		if err != nil {
			return err
		}
		if lags[0].Pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("b still lacks %d changes after %s (last error: %v)", lags[0].Pending, within, lags[0].Err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// write runs up to n single-record writes from cfg.writers writers, the
// ith not before due(i) and none after until (unless zero), and returns how
// many committed.
func write(ctx context.Context, cfg config, rep *replicate.Async, n int, key func(int) string, due func(int) time.Time, until time.Time) (int, error) {
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		mu         sync.Mutex
		firstErr   error
	)
	value := make([]byte, valueSize)
	for range cfg.writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				at := due(i)
				if !until.IsZero() && (!at.Before(until) || !time.Now().Before(until)) {
					return
				}
				time.Sleep(time.Until(at))
				err := rep.Write(ctx, xregion.Write{Table: table, Record: xregion.Record{Key: key(i), Value: value}})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return int(done.Load()), ctx.Err()
}

func drain(ctx context.Context, cfg config, rep *replicate.Async, a, b *timed, proxy *regiontest.Proxy, f *figures, say func(string, ...any)) error {
	// Ship one write first, so the shipper is connected and idle when b
	// goes dark: nothing of b's is mid-transaction in the blackhole.
	if err := rep.Write(ctx, xregion.Write{Table: table, Record: xregion.Record{Key: "warm-up", Value: []byte("x")}}); err != nil {
		return err
	}
	if err := caughtUp(ctx, rep, time.Minute); err != nil {
		return err
	}
	proxy.Blackhole()
	healed := false
	defer func() {
		if !healed {
			proxy.Heal()
		}
	}()
	start := time.Now()
	asap := func(int) time.Time { return time.Time{} }
	if _, err := write(ctx, cfg, rep, cfg.backlog, func(i int) string { return fmt.Sprintf("d-%07d", i) }, asap, time.Time{}); err != nil {
		return err
	}
	fill := time.Since(start)
	say("  backlog   %d writes committed in a in %.1f s (%.0f/s) while b was dark\n", cfg.backlog, fill.Seconds(), float64(cfg.backlog)/fill.Seconds())

	lags, err := rep.Lag(ctx)
	if err != nil {
		return err
	}
	backlog, err := a.Backlog(ctx, lags[0].Applied, a.Region())
	if err != nil {
		return err
	}
	a.changes.reset()
	b.apply.reset()
	proxy.Heal()
	healed = true
	start = time.Now()
	for {
		wm, err := b.Watermark(ctx, a.Region())
		if err != nil {
			return err
		}
		if !wm.Less(backlog.Head) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	f.BacklogRows, f.DrainS, f.DrainRowsPerS = int(backlog.Changes), took.Seconds(), float64(backlog.Changes)/took.Seconds()
	say("  drain     %d changes applied in b %.2f s after it returned: %.0f rows/s\n", backlog.Changes, f.DrainS, f.DrainRowsPerS)
	say("  shipper   reading a's changelog: %s\n", &a.changes)
	say("            applying in b:         %s\n", &b.apply)
	return caughtUp(ctx, rep, time.Minute)
}

func steady(ctx context.Context, cfg config, rep *replicate.Async, a, b *timed, pool *pgxpool.Pool, f *figures, say func(string, ...any)) error {
	// Where the changelogs stand, so that only this phase's changes are
	// read back afterwards.
	heads := [2]xregion.Position{}
	for i, st := range []*timed{a, b} {
		bl, err := st.Backlog(ctx, xregion.Position{}, a.Region())
		if err != nil {
			return err
		}
		heads[i] = bl.Head
	}

	n := int(float64(cfg.rate) * cfg.steady.Seconds())
	start := time.Now().Add(100 * time.Millisecond)
	interval := time.Second / time.Duration(cfg.rate)
	done := make(chan struct{})
	var (
		rpos, open []time.Duration
		openIn     string
		sampler    sync.WaitGroup
	)
	sampler.Go(func() {
		t := time.NewTicker(lagEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if lags, err := rep.Lag(ctx); err == nil {
				rpos = append(rpos, lags[0].RPO)
			}
			// pgstore's Changes reads only below the oldest transaction
			// open anywhere on the server (its outbox-trap guard), so a
			// long transaction, even in another database, holds every
			// shipper back: watch for one.
			var age time.Duration
			var db string
			err := pool.QueryRow(ctx, `SELECT clock_timestamp() - xact_start, datname FROM pg_stat_activity
				WHERE backend_xid IS NOT NULL ORDER BY xact_start LIMIT 1`).Scan(&age, &db)
			if err == nil {
				if len(open) == 0 || age > slices.Max(open) {
					openIn = db
				}
				open = append(open, age)
			}
		}
	})
	n, err := write(ctx, cfg, rep, n, func(i int) string { return fmt.Sprintf("s-%07d", i) },
		func(i int) time.Time { return start.Add(time.Duration(i) * interval) }, start.Add(cfg.steady))
	took := time.Since(start)
	close(done)
	sampler.Wait()
	if err != nil {
		return err
	}
	if err := caughtUp(ctx, rep, time.Minute); err != nil {
		return err
	}
	f.SteadyWritesPS = float64(n) / took.Seconds() // writers stop at the end of -steady, behind schedule or not
	f.RPOP50MS, f.RPOP99MS = percentileMS(rpos, 0.50), percentileMS(rpos, 0.99)
	say("  writes    %d/s asked, %.0f/s done for %s (%d writes)\n", cfg.rate, f.SteadyWritesPS, took.Round(time.Millisecond), n)
	say("  live RPO  p50 %.1f ms  p99 %.1f ms  max %.1f ms  (Async.Lag, %d samples every %s)\n",
		f.RPOP50MS, f.RPOP99MS, percentileMS(rpos, 1), len(rpos), lagEvery)
	say("  horizon   oldest transaction open on the server: p50 %.1f ms  p99 %.1f ms  max %.1f ms (in %s)\n",
		percentileMS(open, 0.5), percentileMS(open, 0.99), percentileMS(open, 1), openIn)

	delays, err := commitDelays(ctx, a, b, heads)
	if err != nil {
		return err
	}
	if len(delays) != n {
		return fmt.Errorf("found %d of the %d writes in both changelogs", len(delays), n)
	}
	f.DelayP50MS, f.DelayP99MS = percentileMS(delays, 0.50), percentileMS(delays, 0.99)
	say("  measured  p50 %.1f ms  p99 %.1f ms  max %.1f ms  (a's changelog to b's, every write)\n",
		f.DelayP50MS, f.DelayP99MS, percentileMS(delays, 1))
	return nil
}

// commitDelays reads the changes of a's region after heads in both
// changelogs and returns, for each write found in both, the time between
// them.
func commitDelays(ctx context.Context, a, b *timed, heads [2]xregion.Position) ([]time.Duration, error) {
	type id struct {
		key     string
		version xregion.Version
	}
	var inA map[id]time.Time
	var delays []time.Duration
	for i, st := range []*timed{a, b} {
		if i == 0 {
			inA = map[id]time.Time{}
		}
		after := heads[i]
		for {
			cs, err := st.Store.Changes(ctx, xregion.ChangeQuery{After: after, Origin: a.Region(), Limit: xregion.MaxChangeLimit})
			if err != nil {
				return nil, err
			}
			if len(cs) == 0 {
				break
			}
			for _, c := range cs {
				k := id{c.Record.Key, c.Record.Version}
				if i == 0 {
					inA[k] = c.Time
				} else if t, ok := inA[k]; ok {
					delays = append(delays, c.Time.Sub(t))
				}
			}
			after = cs[len(cs)-1].Pos
		}
	}
	return delays, nil
}

func percentileMS(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(p*float64(len(s)-1))]) / float64(time.Millisecond)
}
