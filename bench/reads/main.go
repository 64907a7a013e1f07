// Command reads measures what one call of Store.Changes and Store.Backlog
// costs on pgstore as the changelog grows: at 10⁴, 10⁵ and 10⁶ rows
// (-sizes), the goal of issue 14 being a cost that does not grow with it
// (within 2× from the smallest size to the largest).
//
// Two regions' stores share one database, each in a schema of its own:
//
//   - writer (region a) makes most of its changes: a share -local of its
//     changelog is its own writes, the rest batches from its peer b;
//   - receiver (region r) mostly receives: a few writes of its own at the
//     start, then batches from a, and now and then a write of its own.
//
// Each changelog is filled to a size through the store's own Apply, in
// batches of -batch writes (local batches, and peer batches that move the
// peer's watermark), over 100,000 keys of 100-byte values; then VACUUM
// ANALYZE, as autovacuum would have done. Then comes a live tail of small
// transactions (1 to 3 writes, origins in the same shares) while the
// shippers' watermarks stand where the tail began: the writer's peer lacks
// the -pending local changes of its tail, the receiver's lacks the 5 of
// its own. Every transaction then ends, so Changes sees the whole tail.
//
// At each size, after 20 untimed calls of each kind (the pool's
// connections prepare the statements, and PostgreSQL settles on generic
// plans after five), each call is timed -calls times (or for -budget, if
// that ends first), in rounds that interleave the calls so that the load
// of other programs weighs on each alike, and the p50 and p99 of one call
// are printed:
//
//	changes       the writer's shipper: Changes after its peer's watermark,
//	              Origin a, Limit replicate.DefaultBatchSize
//	backlog       the writer's lag tracker: Backlog(watermark, a)
//	changes-recv  the receiver's shipper: Changes after its watermark,
//	              Origin r, which lies behind almost every change there
//	backlog-recv  the receiver's lag tracker: Backlog(watermark, r)
//	backlog-dark  a lag tracker that has never heard from its peer, so
//	              counts everything: Backlog(zero Position, a); first_ms is
//	              its first call at that size, which counts what no call
//	              counted before
//
// The last table gives, per call, the p50 at the largest size over the p50
// at the smallest. -json prints one JSON object per row, then one per call
// with its ratio.
//
//	go run ./bench/reads
//	go run ./bench/reads -sizes 10000,100000,1000000 -calls 1000 -json
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
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bench/internal/cpuprof"
	"github.com/xregion/xregion/bench/internal/pgregions"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
)

type config struct {
	dsn     string
	sizes   []int
	calls   int
	budget  time.Duration
	local   float64
	pending int
	batch   int
	json    bool
	profile string
}

func main() {
	var (
		cfg   config
		sizes string
	)
	flag.StringVar(&cfg.dsn, "pg", regiontest.DSN(), "PostgreSQL server to create the database on (default: $XREGION_TEST_PG or the test server)")
	flag.StringVar(&sizes, "sizes", "10000,100000,1000000", "changelog sizes to measure at, in rows, ascending, comma-separated")
	flag.IntVar(&cfg.calls, "calls", 1000, "calls timed per call kind and size")
	flag.DurationVar(&cfg.budget, "budget", 10*time.Second, "time at most spent timing one call kind at one size")
	flag.Float64Var(&cfg.local, "local", 0.8, "share of the writer's changelog that is its own writes")
	flag.IntVar(&cfg.pending, "pending", 100, "local changes of the writer after its peer's watermark")
	flag.IntVar(&cfg.batch, "batch", 5000, "writes per Apply while filling")
	flag.BoolVar(&cfg.json, "json", false, "print one JSON object per row instead of the table")
	flag.StringVar(&cfg.profile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()

	var err error
	cfg.sizes, err = parseSizes(sizes)
	switch {
	case err != nil:
	case cfg.calls < 1:
		err = fmt.Errorf("-calls %d: want 1 or more", cfg.calls)
	case cfg.budget <= 0:
		err = fmt.Errorf("-budget %s: want a positive duration such as 10s", cfg.budget)
	case cfg.local <= 0 || cfg.local >= 1:
		err = fmt.Errorf("-local %g: want a share between 0 and 1, such as 0.8", cfg.local)
	case cfg.pending < 1 || cfg.pending > replicate.DefaultBatchSize:
		err = fmt.Errorf("-pending %d: want 1 to %d, what one read of the shipper returns", cfg.pending, replicate.DefaultBatchSize)
	case cfg.batch < 1 || cfg.batch > 100_000:
		err = fmt.Errorf("-batch %d: want 1 to 100000", cfg.batch)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reads:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stopProfile, err := cpuprof.Start(cfg.profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reads:", err)
		os.Exit(1)
	}
	defer stopProfile()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "reads:", err)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1000 || n > 100_000_000 {
			return nil, fmt.Errorf("-sizes %q: %q is not a number of rows from 1000 to 100000000", s, f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-sizes %q: sizes must ascend; the changelog only grows", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// row is one line of the table, and one JSON object.
type row struct {
	Rows     int64   `json:"rows"` // the writer's changelog rows when measured (the receiver's about as many)
	Call     string  `json:"call"`
	Calls    int     `json:"calls"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	FirstMS  float64 `json:"first_ms,omitempty"`
	Returned int64   `json:"returned"` // changes returned, or counted by Backlog
}

// ratio is the summary of one call across the sizes.
type ratio struct {
	Call     string  `json:"call"`
	FromRows int64   `json:"from_rows"`
	ToRows   int64   `json:"to_rows"`
	RatioP50 float64 `json:"ratio_p50"`
	RatioP99 float64 `json:"ratio_p99"`
}

// warmup is how many calls of each kind run untimed before the timing.
const warmup = 20

var callKinds = []string{"changes", "backlog", "changes-recv", "backlog-recv", "backlog-dark"}

func run(ctx context.Context, out io.Writer, cfg config) error {
	r, err := pgregions.Open(ctx, cfg.dsn, 8)
	if err != nil {
		return err
	}
	defer r.Close()
	b, err := newBench(ctx, r.A, cfg)
	if err != nil {
		return err
	}
	if !cfg.json {
		fmt.Fprintf(out, "Changes and Backlog per call on %s, as the changelog grows\n", r.Server)
		fmt.Fprintf(out, "writer: %.0f %% own writes; receiver: batches from a; filled by Apply in batches of %d, then VACUUM ANALYZE and a live tail\n",
			cfg.local*100, cfg.batch)
		fmt.Fprintf(out, "%d calls of each kind per size, or %s at most, interleaved in rounds\n\n", cfg.calls, cfg.budget)
	}
	var rows []row
	for _, size := range cfg.sizes {
		started := time.Now()
		if err := b.fill(ctx, size); err != nil {
			return err
		}
		if err := r.Settle(ctx); err != nil {
			return err
		}
		if !cfg.json {
			fmt.Fprintf(os.Stderr, "filled to %d rows in %s\n", size, time.Since(started).Round(time.Second))
		}
		got, err := b.measure(ctx)
		if err != nil {
			return err
		}
		rows = append(rows, got...)
	}
	ratios := ratiosOf(rows)

	if cfg.json {
		enc := json.NewEncoder(out)
		for _, rw := range rows {
			if err := enc.Encode(rw); err != nil {
				return err
			}
		}
		for _, rt := range ratios {
			if err := enc.Encode(rt); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(out, "%10s  %-13s  %6s  %8s  %8s  %9s  %9s\n", "rows", "call", "calls", "p50 ms", "p99 ms", "first ms", "returned")
	for _, rw := range rows {
		first := ""
		if rw.FirstMS > 0 {
			first = fmt.Sprintf("%.2f", rw.FirstMS)
		}
		fmt.Fprintf(out, "%10d  %-13s  %6d  %8.3f  %8.3f  %9s  %9d\n", rw.Rows, rw.Call, rw.Calls, rw.P50MS, rw.P99MS, first, rw.Returned)
	}
	if len(ratios) > 0 {
		fmt.Fprintf(out, "\nper call, largest size over smallest (%d over %d rows); the goal is at most 2\n", ratios[0].ToRows, ratios[0].FromRows)
		fmt.Fprintf(out, "%-13s  %9s  %9s\n", "call", "p50 ratio", "p99 ratio")
		for _, rt := range ratios {
			fmt.Fprintf(out, "%-13s  %9.2f  %9.2f\n", rt.Call, rt.RatioP50, rt.RatioP99)
		}
	}
	return nil
}

// ratiosOf compares each call at the largest size with the smallest.
func ratiosOf(rows []row) []ratio {
	var out []ratio
	for _, call := range callKinds {
		var first, last *row
		for i := range rows {
			if rows[i].Call == call {
				if first == nil {
					first = &rows[i]
				}
				last = &rows[i]
			}
		}
		if first == nil || first == last {
			continue
		}
		out = append(out, ratio{Call: call, FromRows: first.Rows, ToRows: last.Rows,
			RatioP50: round(last.P50MS / first.P50MS), RatioP99: round(last.P99MS / first.P99MS)})
	}
	return out
}

// measure times every call kind at the changelog's present size.
func (b *bench) measure(ctx context.Context) ([]row, error) {
	calls := map[string]func(context.Context) (int64, error){
		"changes": func(ctx context.Context) (int64, error) {
			cs, err := b.writer.Changes(ctx, xregion.ChangeQuery{After: b.writerWM, Origin: writerRegion, Limit: replicate.DefaultBatchSize})
			return int64(len(cs)), err
		},
		"backlog": func(ctx context.Context) (int64, error) {
			bl, err := b.writer.Backlog(ctx, b.writerWM, writerRegion)
			return bl.Changes, err
		},
		"changes-recv": func(ctx context.Context) (int64, error) {
			cs, err := b.receiver.Changes(ctx, xregion.ChangeQuery{After: b.receiverWM, Origin: receiverRegion, Limit: replicate.DefaultBatchSize})
			return int64(len(cs)), err
		},
		"backlog-recv": func(ctx context.Context) (int64, error) {
			bl, err := b.receiver.Backlog(ctx, b.receiverWM, receiverRegion)
			return bl.Changes, err
		},
		"backlog-dark": func(ctx context.Context) (int64, error) {
			bl, err := b.writer.Backlog(ctx, xregion.Position{}, writerRegion)
			return bl.Changes, err
		},
	}
	rows, err := b.count(ctx)
	if err != nil {
		return nil, err
	}
	lats := map[string][]time.Duration{}
	returned := map[string]int64{}
	var firstDark time.Duration
	{
		start := time.Now()
		n, err := calls["backlog-dark"](ctx)
		if err != nil {
			return nil, fmt.Errorf("backlog-dark: %w", err)
		}
		firstDark, returned["backlog-dark"] = time.Since(start), n
	}
	// Warm-up: each connection of the pool prepares the statements, and
	// PostgreSQL plans them anew for the first five runs before it settles
	// on a generic plan.
	for _, call := range callKinds {
		for range warmup {
			if _, err := calls[call](ctx); err != nil {
				return nil, fmt.Errorf("%s at %d rows: %w", call, rows, err)
			}
		}
	}
	// Rounds interleave the calls; each call kind gets a share of the
	// budget in each round.
	const rounds = 5
	for round := range rounds {
		for _, call := range callKinds {
			deadline := time.Now().Add(b.cfg.budget / rounds)
			for i := 0; i < (b.cfg.calls+rounds-1-round)/rounds; i++ {
				if i > 0 && time.Now().After(deadline) {
					break
				}
				start := time.Now()
				n, err := calls[call](ctx)
				if err != nil {
					return nil, fmt.Errorf("%s at %d rows: %w", call, rows, err)
				}
				lats[call] = append(lats[call], time.Since(start))
				if prev, ok := returned[call]; ok && prev != n && call != "backlog-dark" {
					return nil, fmt.Errorf("%s at %d rows: returned %d, then %d: something still writes", call, rows, prev, n)
				}
				returned[call] = n
			}
		}
	}
	var out []row
	for _, call := range callKinds {
		l := lats[call]
		slices.Sort(l)
		pct := func(p float64) float64 { return round(ms(l[int(math.Ceil(p*float64(len(l)-1)))])) }
		rw := row{Rows: rows, Call: call, Calls: len(l), P50MS: pct(0.50), P99MS: pct(0.99), Returned: returned[call]}
		if call == "backlog-dark" {
			rw.FirstMS = round(ms(firstDark))
		}
		out = append(out, rw)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(f float64) float64 { return math.Round(f*1000) / 1000 }
