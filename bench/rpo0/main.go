// Command rpo0 measures what RPO = 0 costs a writer.
//
// Region a writes; region b is another PostgreSQL database on the same
// server, reached through a regiontest.Proxy that adds a one-way delay in
// each direction, so that a round trip to b costs twice the delay. For each
// delay (-delays) and number of concurrent writers (-writers), it runs each
// of these for -duration and prints the p50 and p99 latency of one write
// and the writes per second:
//
//	roundtrip  SELECT 1 in b through the proxy (one writer): the floor of a write b confirms
//	local      Store.Apply of one record in a's pgstore: no replication at all
//	async      replicate.Async.Write: commits in a; b gets it afterwards (RPO > 0)
//	sync       replicate.Sync.Write, Strict (Tier 1): acknowledged once b holds it (RPO 0)
//
// How to read it: sync p50 minus the round trip p50 is what RPO 0 costs
// beyond physics (b's commit of the staged write, and the library). With
// many writers, sync writes share round trips to b (group commit), so sync
// writes/s should approach writers / round trip. local and async must not
// move with the delay: neither waits for b.
//
// Each write is one record with a 100-byte value and a new key. A row is
// measured in three slices, interleaved with the other delays' slices, so
// that load from other programs, which drifts over minutes, weighs on every
// delay alike; after each slice the replicator's backlog is drained, so a
// slice does not pay for the previous one's shipping. Both databases share
// one server, its CPU and its WAL: a real region pair shares neither, so
// absolute figures here are pessimistic. -json prints one JSON object per
// row instead of the table.
//
//	go run ./bench/rpo0
//	go run ./bench/rpo0 -delays 0ms,5ms,20ms,40ms -writers 1,16,64 -duration 5s -json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	dsn      string
	delays   []time.Duration // one way
	writers  []int
	duration time.Duration
	inFlight int      // Sync's MaxInFlight
	modes    []string // of local, async, sync
	json     bool
	profile  string // CPU profile file, or ""
}

const (
	rounds      = 3 // slices per row
	sliceWarmup = 250 * time.Millisecond
	valueSize   = 100
	table       = "payments"
)

func main() {
	var (
		cfg                    config
		delays, writers, modes string
	)
	flag.StringVar(&cfg.dsn, "pg", regiontest.DSN(), "PostgreSQL server to create the regions' databases on (default: $XREGION_TEST_PG or the test server)")
	flag.StringVar(&delays, "delays", "0ms,5ms,20ms", "one-way delays between the regions, comma-separated")
	flag.StringVar(&writers, "writers", "1,16", "numbers of concurrent writers, comma-separated")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long each row measures")
	flag.IntVar(&cfg.inFlight, "inflight", replicate.DefaultMaxInFlight, "sync: batches in flight to b at a time (replicate.WithMaxInFlight)")
	flag.StringVar(&modes, "modes", "local,async,sync", "modes to measure, comma-separated")
	flag.BoolVar(&cfg.json, "json", false, "print one JSON object per row instead of the table")
	flag.StringVar(&cfg.profile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()

	var err error
	if cfg.delays, err = parseDelays(delays); err == nil {
		cfg.writers, err = parseWriters(writers)
	}
	if err == nil {
		cfg.modes, err = parseModes(modes)
	}
	switch {
	case err != nil:
	case cfg.duration <= 0:
		err = fmt.Errorf("-duration %s: want a positive duration such as 3s", cfg.duration)
	case cfg.inFlight < 1:
		err = fmt.Errorf("-inflight %d: want 1 or more", cfg.inFlight)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rpo0:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stopProfile, err := cpuprof.Start(cfg.profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rpo0:", err)
		os.Exit(1)
	}
	defer stopProfile()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "rpo0:", err)
		os.Exit(1)
	}
}

func parseDelays(s string) ([]time.Duration, error) {
	var out []time.Duration
	for f := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-delays %q: %q is not a duration of 0 or more; want e.g. 0ms,5ms,20ms", s, f)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseModes(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		m := strings.TrimSpace(f)
		if !slices.Contains([]string{"local", "async", "sync"}, m) {
			return nil, fmt.Errorf("-modes %q: %q is not local, async or sync", s, f)
		}
		out = append(out, m)
	}
	return out, nil
}

func parseWriters(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return nil, fmt.Errorf("-writers %q: %q is not a number from 1 to 256; want e.g. 1,16", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// row is one line of the table, and one JSON object.
type row struct {
	Mode       string  `json:"mode"`
	OneWayMS   float64 `json:"oneway_ms"`
	Writers    int     `json:"writers"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	WritesPerS float64 `json:"writes_per_s"`
}

// bench is the regions and, per mode, region a's store and region b's (each
// mode has a schema of its own, so a replicator ships only its own writes).
type bench struct {
	cfg   config
	r     *pgregions.Regions
	clock *xregion.Clock
	a, b  map[string]xregion.Store
}

func run(ctx context.Context, out io.Writer, cfg config) error {
	// a: every writer, and the shipper, lease and lag readers; b: Sync's
	// batches in flight, the shipper and its heartbeat.
	r, err := pgregions.Open(ctx, cfg.dsn, int32(max(slices.Max(cfg.writers), cfg.inFlight)+8))
	if err != nil {
		return err
	}
	defer r.Close()
	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return err
	}
	clockB, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, r: r, clock: clock, a: map[string]xregion.Store{}, b: map[string]xregion.Store{}}
	for _, mode := range []string{"local", "async", "sync"} {
		for _, side := range []struct {
			pool   *pgxpool.Pool
			region xregion.Region
			clock  *xregion.Clock
			stores map[string]xregion.Store
		}{{r.A, "a", clock, b.a}, {r.B, "b", clockB, b.b}} {
			st, err := pgstore.New(ctx, side.pool, side.region, pgstore.WithSchema(mode))
			if err != nil {
				return fmt.Errorf("open %s store of %s: %w", mode, side.region, err)
			}
			resolver, err := lww.New(side.clock)
			if err != nil {
				return err
			}
			if err := st.DefineTable(ctx, table, resolver); err != nil {
				return err
			}
			side.stores[mode] = st
		}
	}

	if !cfg.json {
		fmt.Fprintf(out, "RPO 0 write cost on %s: region a direct, region b through a proxy adding the one-way delay each way\n", r.Server)
		fmt.Fprintf(out, "%s per row, in %d slices interleaved across the delays, each after %s of warm-up; one %d-byte record per write; sync MaxInFlight %d\n\n",
			cfg.duration, rounds, sliceWarmup, valueSize, cfg.inFlight)
	}
	// Each cell (a mode and a number of writers) is measured at every delay
	// in turn, a slice at a time, so that the load of other programs on the
	// machine, which drifts over minutes, weighs on every delay alike.
	type cell struct {
		mode    string
		writers int
	}
	cells := []cell{{"roundtrip", 1}}
	for _, n := range cfg.writers {
		for _, mode := range cfg.modes {
			cells = append(cells, cell{mode, n})
		}
	}
	lats := map[row][]time.Duration{} // by mode, delay and writers
	for _, c := range cells {
		// The cell before wrote tens of thousands of rows: their dirty
		// pages are written out now, not by a checkpoint during this cell.
		if err := r.Settle(ctx); err != nil {
			return err
		}
		op, lag, stop, err := b.start(c.mode)
		if err != nil {
			return err
		}
		measure := func(round int, delay time.Duration, warm, d time.Duration) ([]time.Duration, error) {
			r.Proxy.SetLatency(delay)
			l, err := b.slice(ctx, c.writers, warm, d, func(ctx context.Context, w, i int) error {
				return op(ctx, fmt.Sprintf("%d-%s-%d-%d-%d", round, delay, c.writers, w, i))
			})
			if err == nil && lag != nil {
				err = drained(ctx, lag)
			}
			if err != nil {
				return nil, fmt.Errorf("%s, %d writers, %s one way: %w", c.mode, c.writers, delay, err)
			}
			return l, nil
		}
		// Connections to b are made through the proxy once, at the
		// longest delay, before anything counts.
		if _, err := measure(-1, slices.Max(cfg.delays), 0, time.Second); err != nil {
			stop()
			return err
		}
		for round := range rounds {
			for _, delay := range cfg.delays {
				l, err := measure(round, delay, sliceWarmup, cfg.duration/rounds)
				if err != nil {
					stop()
					return err
				}
				k := row{Mode: c.mode, OneWayMS: ms(delay), Writers: c.writers}
				lats[k] = append(lats[k], l...)
			}
		}
		stop()
	}

	var rows []row
	for _, delay := range cfg.delays {
		for _, c := range cells {
			k := row{Mode: c.mode, OneWayMS: ms(delay), Writers: c.writers}
			l := lats[k]
			if len(l) == 0 {
				return fmt.Errorf("%s, %d writers, %s one way: no write finished; lengthen -duration", c.mode, c.writers, delay)
			}
			slices.Sort(l)
			pct := func(p float64) float64 { return math.Round(ms(l[int(p*float64(len(l)-1))])*1000) / 1000 }
			rows = append(rows, row{Mode: c.mode, OneWayMS: ms(delay), Writers: c.writers,
				P50MS: pct(0.50), P99MS: pct(0.99), WritesPerS: math.Round(float64(len(l)) / cfg.duration.Seconds())})
		}
	}
	if cfg.json {
		enc := json.NewEncoder(out)
		for _, rw := range rows {
			if err := enc.Encode(rw); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(out, "%7s  %7s  %-9s  %8s  %8s  %9s\n", "one-way", "writers", "mode", "p50 ms", "p99 ms", "writes/s")
	for _, rw := range rows {
		fmt.Fprintf(out, "%5gms  %7d  %-9s  %8.2f  %8.2f  %9.0f\n", rw.OneWayMS, rw.Writers, rw.Mode, rw.P50MS, rw.P99MS, rw.WritesPerS)
	}
	printGoals(out, rows)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// start returns how one write of mode is made, with its replicator's lag
// (nil without one) and a function that stops it.
func (b *bench) start(mode string) (op func(ctx context.Context, key string) error, lag xregion.Lagger, stop func(), err error) {
	a, peer := b.a[mode], b.b[mode]
	value := make([]byte, valueSize)
	rec := func(key string) xregion.Write {
		return xregion.Write{Table: table, Record: xregion.Record{Key: key, Value: value}}
	}
	switch mode {
	case "roundtrip":
		return func(ctx context.Context, _ string) error {
			var one int
			return b.r.B.QueryRow(ctx, "SELECT 1").Scan(&one)
		}, nil, func() {}, nil
	case "local":
		return func(ctx context.Context, key string) error {
			w := rec(key)
			v, err := b.clock.Stamp(a.Region(), xregion.Version{})
			if err != nil {
				return err
			}
			w.Record.Version = v
			_, err = a.Apply(ctx, xregion.Batch{Writes: []xregion.Write{w}})
			return err
		}, nil, func() {}, nil
	case "async":
		rep, err := replicate.NewAsync(a, b.clock, []xregion.Store{peer}, replicate.WithTier(replicate.Tier2))
		if err != nil {
			return nil, nil, nil, err
		}
		return func(ctx context.Context, key string) error { return rep.Write(ctx, rec(key)) }, rep, func() { rep.Close() }, nil
	default:
		rep, err := replicate.NewSync(a, b.clock, []xregion.Store{peer}, replicate.WithTier(replicate.Tier1),
			replicate.WithMaxInFlight(b.cfg.inFlight))
		if err != nil {
			return nil, nil, nil, err
		}
		return func(ctx context.Context, key string) error { return rep.Write(ctx, rec(key)) }, rep, func() { rep.Close() }, nil
	}
}

// drained waits until the replicator's peer has applied everything, so
// that the next slice does not pay for this one's shipping.
func drained(ctx context.Context, r xregion.Lagger) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		lags, err := r.Lag(ctx)
		if err != nil {
			return err
		}
		if lags[0].Pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("b still lacks %d writes 2 minutes after the slice", lags[0].Pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slice runs op from n writers for warm + d and returns the latencies of
// the ops that started after warm.
func (b *bench) slice(ctx context.Context, n int, warm, d time.Duration, op func(ctx context.Context, writer, i int) error) ([]time.Duration, error) {
	begin := time.Now().Add(warm)
	end := begin.Add(d)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lats     []time.Duration
		firstErr error
	)
	for w := range n {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; ; i++ {
				start := time.Now()
				if !start.Before(end) || ctx.Err() != nil {
					break
				}
				opCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := op(opCtx, w, i)
				cancel()
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				if !start.Before(begin) {
					mine = append(mine, time.Since(start))
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return lats, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// printGoals checks the rows against the goals of the issue.
func printGoals(out io.Writer, rows []row) {
	find := func(mode string, oneWay float64, writers int) (row, bool) {
		for _, r := range rows {
			if r.Mode == mode && r.OneWayMS == oneWay && r.Writers == writers {
				return r, true
			}
		}
		return row{}, false
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(out, "\ngoals\n")
	for _, rt := range rows {
		if rt.Mode != "roundtrip" {
			continue
		}
		if s, ok := find("sync", rt.OneWayMS, 1); ok {
			limit := rt.P50MS + 0.5
			fmt.Fprintf(out, "  %gms, 1 writer:   sync p50 %.2f ms, at most round trip %.2f + 0.5 = %.2f ms: %s\n",
				rt.OneWayMS, s.P50MS, rt.P50MS, limit, verdict(s.P50MS <= limit))
		}
		for _, s := range rows {
			if s.Mode != "sync" || s.OneWayMS != rt.OneWayMS || s.Writers == 1 || rt.OneWayMS == 0 {
				continue
			}
			ceiling := float64(s.Writers) / (rt.P50MS / 1000)
			fmt.Fprintf(out, "  %gms, %s sync %.0f writes/s, at least 90%% of %d / %.2f ms = %.0f: %s (%.0f%%)\n",
				rt.OneWayMS, writersOf(s.Writers), s.WritesPerS, s.Writers, rt.P50MS, 0.9*ceiling, verdict(s.WritesPerS >= 0.9*ceiling), 100*s.WritesPerS/ceiling)
		}
		if rt.OneWayMS == 0 {
			continue
		}
		for _, mode := range []string{"local", "async"} {
			for _, r := range rows {
				if r.Mode != mode || r.OneWayMS != rt.OneWayMS {
					continue
				}
				if base, ok := find(mode, 0, r.Writers); ok {
					fmt.Fprintf(out, "  %gms, %s %s p50 %.2f ms, within 10%% of %.2f ms at 0ms: %s (%+.0f%%)\n",
						rt.OneWayMS, writersOf(r.Writers), mode, r.P50MS, base.P50MS, verdict(r.P50MS <= 1.1*base.P50MS), 100*(r.P50MS/base.P50MS-1))
				}
			}
		}
	}
}

func writersOf(n int) string {
	if n == 1 {
		return "1 writer: "
	}
	return fmt.Sprintf("%d writers:", n)
}
