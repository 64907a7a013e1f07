// Command tiers runs two tables on two tiers across regions a and b while
// region b goes dark for a few seconds and comes back:
//
//   - payments, Tier 1 (RPO 0): replicate.Sync with the Strict policy. A
//     payment is acknowledged only once b holds it, so while b is dark every
//     payment is refused: that is RPO 0 working, not failing.
//   - inventory, Tier 2 (RPO 15 min): replicate.Async. Stock updates commit
//     in a and go on while b is dark; their live RPO grows, and falls back
//     once b returns and the shipper catches up.
//
// Each second it prints whether b is up, how many payments were acknowledged
// and refused, and each tier's live RPO as the replicators report it (Lag).
//
//	go run ./examples/tiers                 # regions in memory, latency simulated
//	go run ./examples/tiers -pg postgres://postgres@127.0.0.1:5432/postgres
//
// On the embedded default each region is a memstore in this process, and b is
// reached through a simulated network (regiontest.MemLink). With -pg each region is a
// PostgreSQL database created for the run and dropped at the end, and b is
// reached through a regiontest.Proxy that delays and blackholes real TCP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// config is what a run does; main fills it from flags.
type config struct {
	pg         string        // PostgreSQL DSN; empty runs in memory
	duration   time.Duration // how long the writers write
	darkAt     time.Duration // when b goes dark
	darkFor    time.Duration // how long it stays dark
	oneWay     time.Duration // latency between the regions, each way
	tick       time.Duration // one line per tick
	payTimeout time.Duration // how long a payment waits for b before it is refused
	settle     time.Duration // how long to wait at the end for b to catch up
}

func defaultConfig() config {
	return config{
		duration:   11 * time.Second,
		darkAt:     3 * time.Second,
		darkFor:    4 * time.Second,
		oneWay:     10 * time.Millisecond,
		tick:       time.Second,
		payTimeout: 300 * time.Millisecond,
		settle:     15 * time.Second,
	}
}

func (c config) validate() error {
	switch {
	case c.tick <= 0 || c.payTimeout <= 0 || c.settle <= 0:
		return errors.New("tick, payment timeout and settle time must be positive")
	case c.oneWay < 0:
		return fmt.Errorf("-latency %s: want 0 or more", c.oneWay)
	case c.darkAt < c.tick || c.darkFor < c.tick:
		return fmt.Errorf("-dark-at %s, -dark-for %s: want each at least %s", c.darkAt, c.darkFor, c.tick)
	case c.darkAt%c.tick != 0 || c.darkFor%c.tick != 0 || c.duration%c.tick != 0:
		return fmt.Errorf("-duration, -dark-at and -dark-for must be whole multiples of %s", c.tick)
	case c.darkAt+c.darkFor >= c.duration:
		return fmt.Errorf("-duration %s: b comes back at %s; want a duration after that, such as %s",
			c.duration, c.darkAt+c.darkFor, c.darkAt+c.darkFor+3*c.tick)
	}
	return nil
}

func main() {
	cfg := defaultConfig()
	flag.StringVar(&cfg.pg, "pg", "", "run on PostgreSQL at this DSN (a database per region is created and dropped); default: in memory")
	flag.DurationVar(&cfg.duration, "duration", cfg.duration, "how long to write, in whole seconds")
	flag.DurationVar(&cfg.darkAt, "dark-at", cfg.darkAt, "when region b goes dark")
	flag.DurationVar(&cfg.darkFor, "dark-for", cfg.darkFor, "how long region b stays dark")
	flag.DurationVar(&cfg.oneWay, "latency", cfg.oneWay, "one-way latency between the regions")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "tiers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	var (
		r   *regions
		err error
	)
	if cfg.pg == "" {
		r, err = memRegions(ctx, cfg.oneWay)
	} else {
		r, err = pgRegions(ctx, cfg.pg, cfg.oneWay)
	}
	if err != nil {
		return fmt.Errorf("set up regions: %w", err)
	}
	defer r.close()

	pay, err := replicate.NewSync(r.payA, r.clock, []xregion.Store{r.payB}, replicate.WithTier(replicate.Tier1))
	if err != nil {
		return err
	}
	defer pay.Close()
	inv, err := replicate.NewAsync(r.invA, r.clock, []xregion.Store{r.invB}, replicate.WithTier(replicate.Tier2))
	if err != nil {
		return err
	}
	defer inv.Close()

	fmt.Fprintf(out, "payments  (Tier 1, RPO 0):      synchronous, Strict: acknowledged once region b holds the payment\n")
	fmt.Fprintf(out, "inventory (Tier 2, RPO 15 min): asynchronous: committed in a, shipped to b from a's changelog\n")
	fmt.Fprintf(out, "regions a and b: %s\n", r.about)
	fmt.Fprintf(out, "b goes dark from %s to %s.\n\n", cfg.darkAt, cfg.darkAt+cfg.darkFor)
	fmt.Fprintf(out, "%6s  %-4s  %11s  %7s  %9s  %9s  %13s\n", "time", "b", "payments ok", "refused", "tier1 RPO", "tier2 RPO", "tier2 pending")

	w := startWriters(ctx, pay, inv, cfg.payTimeout)
	defer w.halt()
	start := time.Now()
	tick := time.NewTicker(cfg.tick)
	defer tick.Stop()
	dark, peakRPO2 := false, time.Duration(0)
	for n := time.Duration(1); ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		at := n * cfg.tick
		l1, l2, err := lags(ctx, pay, inv)
		if err != nil {
			return err
		}
		if dark {
			peakRPO2 = max(peakRPO2, l2.RPO)
		}
		printRow(out, at, dark, w.acked.Swap(0), w.refused.Swap(0), l1, l2)
		if err := w.failed(); err != nil {
			return err
		}
		switch at {
		case cfg.darkAt:
			r.setDark(true)
			dark = true
		case cfg.darkAt + cfg.darkFor:
			r.setDark(false)
			dark = false
		case cfg.duration:
			return finish(ctx, out, cfg, r, w, pay, inv, start, peakRPO2)
		}
	}
}

// finish stops the writers, waits until b holds everything a committed,
// prints the last row and checks b against what was acknowledged.
func finish(ctx context.Context, out io.Writer, cfg config, r *regions, w *writers,
	pay *replicate.Sync, inv *replicate.Async, start time.Time, peakRPO2 time.Duration) error {
	w.halt()
	if err := w.failed(); err != nil {
		return err
	}
	fmt.Fprintf(out, "writers stopped; waiting until b holds everything a committed:\n")
	var l1, l2 xregion.PeerLag
	deadline := time.Now().Add(cfg.settle)
	for {
		var err error
		if l1, l2, err = lags(ctx, pay, inv); err != nil {
			return err
		}
		if l1.RPO == 0 && l1.Pending == 0 && l2.RPO == 0 && l2.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			printRow(out, time.Since(start).Round(100*time.Millisecond), false, w.acked.Swap(0), w.refused.Swap(0), l1, l2)
			return fmt.Errorf("region b had not caught up %s after the writers stopped", cfg.settle)
		}
		time.Sleep(50 * time.Millisecond)
	}
	printRow(out, time.Since(start).Round(100*time.Millisecond), false, w.acked.Swap(0), w.refused.Swap(0), l1, l2)

	acked, refused := w.ackedKeys()
	missing := 0
	for _, k := range acked {
		if _, err := r.payBHere.Get(ctx, payments, k); errors.Is(err, xregion.ErrNotFound) {
			missing++
		} else if err != nil {
			return fmt.Errorf("check payments in b: %w", err)
		}
	}
	fmt.Fprintf(out, "\npayments:  %d acknowledged, %d refused while b could not confirm them; b holds %d of the %d acknowledged.\n",
		len(acked), refused, len(acked)-missing, len(acked))
	fmt.Fprintf(out, "inventory: %d writes, none refused; the RPO reached %s while b was dark, and b has applied all of them now.\n",
		w.stock.Load(), peakRPO2.Round(time.Millisecond))
	fmt.Fprintf(out, "\ntier1 RPO is the age of the oldest payment committed in a that b may lack. A refused payment\n"+
		"may have committed in a (the local commit races the staging in b); it counts there until the\n"+
		"changelog stream delivers it, but it was never acknowledged: no acknowledged payment is at risk.\n")
	if missing > 0 {
		return fmt.Errorf("region b lacks %d acknowledged payments: RPO 0 was broken", missing)
	}
	return nil
}

func lags(ctx context.Context, pay *replicate.Sync, inv *replicate.Async) (tier1, tier2 xregion.PeerLag, err error) {
	l1, err := pay.Lag(ctx)
	if err != nil {
		return tier1, tier2, fmt.Errorf("tier 1 lag: %w", err)
	}
	l2, err := inv.Lag(ctx)
	if err != nil {
		return tier1, tier2, fmt.Errorf("tier 2 lag: %w", err)
	}
	return l1[0], l2[0], nil
}

func printRow(out io.Writer, at time.Duration, dark bool, acked, refused int64, l1, l2 xregion.PeerLag) {
	state := "up"
	if dark {
		state = "dark"
	}
	secs := strconv.FormatFloat(at.Seconds(), 'f', -1, 64) + "s"
	fmt.Fprintf(out, "%6s  %-4s  %11d  %7d  %9s  %9s  %13d\n", secs, state, acked, refused,
		l1.RPO.Round(time.Millisecond), l2.RPO.Round(time.Millisecond), l2.Pending)
}

// writers are the traffic: four payment writers on Tier 1, each waiting for
// its payment to be acknowledged or refused before the next, and one stock
// update every 2 ms on Tier 2.
type writers struct {
	acked, refused atomic.Int64 // payments since the last row
	stock          atomic.Int64 // inventory writes in all
	stop           chan struct{}
	wg             sync.WaitGroup
	mu             struct {
		sync.Mutex
		acked   []string // keys of the acknowledged payments
		refused int
		err     error
	}
}

const paymentWriters = 4

func startWriters(ctx context.Context, pay *replicate.Sync, inv *replicate.Async, payTimeout time.Duration) *writers {
	w := &writers{stop: make(chan struct{})}
	for id := range paymentWriters {
		w.wg.Go(func() { w.pay(ctx, pay, id, payTimeout) })
	}
	w.wg.Go(func() { w.restock(ctx, inv) })
	return w
}

func (w *writers) pay(ctx context.Context, rep *replicate.Sync, id int, timeout time.Duration) {
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		key := fmt.Sprintf("pay-%d-%06d", id, i)
		wctx, cancel := context.WithTimeout(ctx, timeout)
		err := rep.Write(wctx, xregion.Write{Table: payments, Record: xregion.Record{Key: key, Value: []byte(`{"amount_cents":1250}`)}})
		cancel()
		w.mu.Lock()
		switch {
		case err == nil:
			w.acked.Add(1)
			w.mu.acked = append(w.mu.acked, key)
		case errors.Is(err, replicate.ErrNotAcknowledged):
			w.refused.Add(1)
			w.mu.refused++
		default:
			w.mu.err = fmt.Errorf("payment %s: %w", key, err)
		}
		failed := w.mu.err != nil
		w.mu.Unlock()
		if failed {
			return
		}
	}
}

func (w *writers) restock(ctx context.Context, rep *replicate.Async) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		key := fmt.Sprintf("sku-%04d", i%1000)
		if err := rep.Write(ctx, xregion.Write{Table: inventory, Record: xregion.Record{Key: key, Value: []byte(strconv.Itoa(i))}}); err != nil {
			w.mu.Lock()
			w.mu.err = fmt.Errorf("stock update %s: %w", key, err)
			w.mu.Unlock()
			return
		}
		w.stock.Add(1)
	}
}

// halt stops the writers and waits for them. It is safe to call twice.
func (w *writers) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

func (w *writers) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.err
}

func (w *writers) ackedKeys() ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.mu.acked...), w.mu.refused
}
