package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/report"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/internal/wait"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/router"
)

// Settings is what a drill does and how long each phase lasts. The zero
// value of a field takes its default.
type Settings struct {
	ProbeEvery   time.Duration // the detector's interval (default health.DefaultInterval, 10 s)
	ProbeTimeout time.Duration // each probe's timeout (default half the interval)
	Failures     int           // failed probes in a row that declare a region down (default 3)
	Successes    int           // successful probes in a row that declare it up (default 2)
	Warmup       time.Duration // load before the kill (default 5 s)
	Outage       time.Duration // how long the standby serves alone after the failover (default 3 s)
	WriteTimeout time.Duration // how long a client gives one write (default 500 ms)
	Tier1Writers int           // concurrent payment writers (default 2)
	Tier1Every   time.Duration // each payment writer starts at most one payment every (default 10 ms)
	Tier2Every   time.Duration // one stock update every (default 5 ms)
	Sample       time.Duration // the timeline's resolution (default 250 ms)
}

func (s Settings) withDefaults() Settings {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&s.ProbeEvery, health.DefaultInterval)
	def(&s.ProbeTimeout, s.ProbeEvery/2)
	def(&s.Warmup, 5*time.Second)
	def(&s.Outage, 3*time.Second)
	def(&s.WriteTimeout, 500*time.Millisecond)
	def(&s.Tier1Every, 10*time.Millisecond)
	def(&s.Tier2Every, 5*time.Millisecond)
	def(&s.Sample, 250*time.Millisecond)
	if s.Failures == 0 {
		s.Failures = health.DefaultFailures
	}
	if s.Successes == 0 {
		s.Successes = health.DefaultSuccesses
	}
	if s.Tier1Writers == 0 {
		s.Tier1Writers = 2
	}
	return s
}

func (s Settings) validate() error {
	bad := func(what, reason string) error { return &xregion.InvalidError{What: "drill " + what, Reason: reason} }
	switch {
	case s.ProbeEvery < 10*time.Millisecond:
		return bad("probe interval", fmt.Sprintf("%s; want 10ms or more", s.ProbeEvery))
	case s.ProbeTimeout <= 0 || s.ProbeTimeout > s.ProbeEvery:
		return bad("probe timeout", fmt.Sprintf("%s; want a positive duration of at most the interval, %s", s.ProbeTimeout, s.ProbeEvery))
	case s.Failures < 1 || s.Successes < 1:
		return bad("thresholds", fmt.Sprintf("%d failures, %d successes; want at least 1 each", s.Failures, s.Successes))
	case s.Warmup < s.Sample || s.Outage < s.Sample:
		return bad("phases", fmt.Sprintf("warm-up %s, outage %s; want each at least %s", s.Warmup, s.Outage, s.Sample))
	case s.WriteTimeout <= 0 || s.Tier1Every <= 0 || s.Tier2Every <= 0 || s.Sample <= 0 || s.Tier1Writers < 1 || s.Tier1Writers > 64:
		return bad("load", "write timeout, write intervals and sample must be positive, and 1 to 64 payment writers")
	}
	return nil
}

// tiers are the drill's two tiers, by index.
var tiers = [2]struct {
	tier  replicate.Tier
	label string
}{
	{replicate.Tier1, "tier1 (payments)"},
	{replicate.Tier2, "tier2 (inventory)"},
}

// drill is one run.
type drill struct {
	env   *Env
	s     Settings
	out   io.Writer
	start time.Time

	a      *tierWriters                // the primary's replicators
	killed atomic.Bool                 // a is dead: its lag tracker with it
	b      atomic.Pointer[tierWriters] // the standby's, once promoted
	router *router.Router
	load   *load

	mu struct {
		sync.Mutex
		events []report.Event
		rates  [2][]report.Point
		lags   [2][]report.Point
	}
}

// Result is what a drill measured: the report, and the headline figures.
type Result struct {
	report.Drill
	Detect time.Duration // from the kill to the detector's verdict
	RTO    time.Duration // from the kill to the first write the standby acknowledged
	Lost   [2]int        // per tier, acknowledged writes the standby lacked at the failover
}

// Run runs a drill on env and reports what it measured; out receives the
// drill's progress as it goes. The error is for a drill that could not
// run; a drill that ran and missed a target returns its result with Pass
// false.
func Run(ctx context.Context, env *Env, s Settings, out io.Writer) (Result, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Result{}, err
	}
	d := &drill{env: env, s: s, out: out, start: time.Now()}
	return d.run(ctx)
}

func (d *drill) since() time.Duration { return time.Since(d.start) }

// event records and prints one moment of the drill.
func (d *drill) event(at time.Duration, kind, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.mu.events = append(d.mu.events, report.Event{At: at, Kind: kind, Text: text})
	d.mu.Unlock()
	fmt.Fprintf(d.out, "%8s  %-9s %s\n", at.Round(time.Millisecond), kind, text)
}

func (d *drill) run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	env, s := d.env, d.s
	var err error
	if d.a, err = primaryWriters(env); err != nil {
		return Result{}, err
	}
	aClosed := false
	defer func() {
		if !aClosed {
			d.a.close()
		}
	}()

	// Each region's /health, a's through a proxy the kill blackholes, and
	// the detector and router that follow a.
	urlA, healthA, err := serveHealth(env.A)
	if err != nil {
		return Result{}, err
	}
	defer healthA.close()
	urlB, healthB, err := serveHealth(env.B)
	if err != nil {
		return Result{}, err
	}
	defer healthB.close()
	if d.router, err = router.New([]router.Region{{Name: env.A.Name, URL: urlA}, {Name: env.B.Name, URL: urlB}}); err != nil {
		return Result{}, err
	}
	verdicts := make(chan health.Transition, 8)
	det, err := health.NewDetector(string(env.A.Name), health.HTTPProbe(&http.Client{}, urlA.String()+"/health"),
		health.WithInterval(s.ProbeEvery), health.WithProbeTimeout(s.ProbeTimeout),
		health.WithThresholds(s.Failures, s.Successes),
		health.WithTransition(func(t health.Transition) {
			d.router.Observe(t)
			verdicts <- t
		}))
	if err != nil {
		return Result{}, err
	}
	go det.Run(ctx)

	fmt.Fprintf(d.out, "drill: regions %s (primary) and %s (standby), %s\n", env.A.Name, env.B.Name, env.About)
	fmt.Fprintf(d.out, "drill: detector probes %s every %s (timeout %s), down after %d failures\n\n",
		env.A.Name, s.ProbeEvery, s.ProbeTimeout, s.Failures)
	d.event(0, report.EventStart, "load starts on %s: %d payment writers, one payment each every %s at most (Tier 1, synchronous), a stock update every %s (Tier 2, asynchronous)",
		env.A.Name, s.Tier1Writers, s.Tier1Every, s.Tier2Every)
	d.load = startLoad(ctx, d.start, s, d.route, env.Call)
	defer d.load.halt()
	samplerDone := make(chan struct{})
	stopSampler := make(chan struct{})
	go func() {
		defer close(samplerDone)
		d.sample(ctx, stopSampler)
	}()
	defer func() {
		select {
		case <-stopSampler:
		default:
			close(stopSampler)
		}
		<-samplerDone
	}()

	if err := sleep(ctx, s.Warmup); err != nil {
		return Result{}, err
	}

	// The failure: the lag tracker's figures at that moment, then a's
	// network, database and health endpoint go dark and its processes die.
	// The reading may take a while on a busy server; the judgement allows
	// for all of it (see report).
	readAt := d.since()
	lctx, cancel := context.WithTimeout(ctx, lagReadTimeout)
	reported, err := d.lags(lctx, d.a)
	cancel()
	if err != nil {
		return Result{}, fmt.Errorf("read the lag before the kill: %w", err)
	}
	env.Kill()
	healthA.proxy.Blackhole()
	d.killed.Store(true)
	killAt := d.since()
	d.event(killAt, report.EventKill, "region %s killed: its links blackholed (live RPO reported just before: tier1 %s, tier2 %s)",
		env.A.Name, reported[0].Round(time.Millisecond), reported[1].Round(time.Millisecond))
	d.a.close()
	aClosed = true

	// Detection, then promotion: the standby applies the payments a staged
	// in it, and serves both tiers.
	var down health.Transition
	select {
	case down = <-verdicts:
	case <-time.After(time.Duration(s.Failures+2)*s.ProbeEvery + s.ProbeTimeout):
		return Result{}, fmt.Errorf("the detector did not declare %s down within %d probes", env.A.Name, s.Failures+2)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	detectAt := down.At.Sub(d.start)
	d.event(detectAt, report.EventDetected, "detector: %s down after %d failed probes; the router now sends to %s",
		env.A.Name, down.Failures, d.router.Current())
	staged, err := d.promote(ctx)
	if err != nil {
		return Result{}, err
	}
	d.event(d.since(), report.EventFailover, "%s promoted: %d staged payments of %s applied, serving both tiers", env.B.Name, staged, env.A.Name)
	firstB, err := d.firstAck(ctx, env.B.Name)
	if err != nil {
		return Result{}, err
	}
	d.event(firstB, report.EventFailover, "first write acknowledged in %s: RTO %s", env.B.Name, (firstB - killAt).Round(time.Millisecond))

	// What the standby holds of what the primary acknowledged.
	loss, err := d.loss(ctx, killAt)
	if err != nil {
		return Result{}, err
	}

	if err := sleep(ctx, s.Outage); err != nil {
		return Result{}, err
	}
	d.load.halt()
	close(stopSampler)
	<-samplerDone

	// Failback: a returns, the standby's shippers stop, resync brings
	// both regions level and verifies them.
	env.Restore()
	healthA.proxy.Heal()
	d.event(d.since(), report.EventRestore, "region %s restored: its links carry bytes again", env.A.Name)
	if b := d.b.Load(); b != nil {
		b.close()
	}
	back, err := d.failback(ctx)
	if err != nil {
		return Result{}, err
	}
	held, total, err := d.everywhere(ctx)
	if err != nil {
		return Result{}, err
	}
	end := d.since()
	d.event(end, report.EventEnd, "drill over")

	rep := d.report(end, reported, killAt-readAt, killAt, detectAt, firstB, loss, back, held, total)
	return Result{Drill: rep, Detect: detectAt - killAt, RTO: firstB - killAt, Lost: loss.missing}, nil
}

// route is where the load sends a write: the region the router prefers,
// if it serves.
func (d *drill) route() (*tierWriters, error) {
	if d.router.Current() == d.env.A.Name {
		return d.a, nil
	}
	if b := d.b.Load(); b != nil {
		return b, nil
	}
	return nil, errNotServing
}

// primaryWriters starts a's replicators: payments synchronous (Strict, RPO
// 0), stock asynchronous, both to b across a's network.
func primaryWriters(env *Env) (*tierWriters, error) {
	pay, err := replicate.NewSync(env.A.Pay, env.A.Clock, []xregion.Store{env.BFromA.Pay}, replicate.WithTier(replicate.Tier1))
	if err != nil {
		return nil, err
	}
	inv, err := replicate.NewAsync(env.A.Inv, env.A.Clock, []xregion.Store{env.BFromA.Inv}, replicate.WithTier(replicate.Tier2))
	if err != nil {
		pay.Close()
		return nil, err
	}
	return &tierWriters{region: env.A.Name, pay: pay, inv: inv}, nil
}

// promote makes b serve: it applies the payments a staged in it (the
// synchronous replicator's durable copies of writes a may have
// acknowledged), then starts b's replicators. With a gone, b is the sole
// survivor: its payments ship to a asynchronously, and what it takes
// while alone is the failback's to bring back.
func (d *drill) promote(ctx context.Context) (int, error) {
	env := d.env
	res, err := env.B.Pay.(xregion.Stager).ApplyStaged(ctx)
	if err != nil {
		return 0, fmt.Errorf("promote %s: apply staged payments: %w", env.B.Name, err)
	}
	pay, err := replicate.NewAsync(env.B.Pay, env.B.Clock, []xregion.Store{env.AFromB.Pay})
	if err != nil {
		return 0, err
	}
	inv, err := replicate.NewAsync(env.B.Inv, env.B.Clock, []xregion.Store{env.AFromB.Inv})
	if err != nil {
		pay.Close()
		return 0, err
	}
	d.b.Store(&tierWriters{region: env.B.Name, pay: pay, inv: inv})
	return res.Applied, nil
}

// firstAck waits for the first write acknowledged by region.
func (d *drill) firstAck(ctx context.Context, region xregion.Region) (time.Duration, error) {
	deadline := time.Now().Add(10 * d.s.WriteTimeout)
	for time.Now().Before(deadline) {
		for tier := range tiers {
			for _, a := range d.load.acks(tier) {
				if a.region == region {
					return a.at, nil
				}
			}
		}
		if err := sleep(ctx, d.s.WriteTimeout/20); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("no write was acknowledged in %s within %s of its promotion", region, 10*d.s.WriteTimeout)
}

// lagReadTimeout bounds the reading of the lag at the moment of the kill.
const lagReadTimeout = 10 * time.Second

// lags reads each tier's live RPO from w's replicators.
func (d *drill) lags(ctx context.Context, w *tierWriters) ([2]time.Duration, error) {
	var out [2]time.Duration
	for i, rep := range []writer{w.pay, w.inv} {
		ls, err := rep.Lag(ctx)
		if err != nil {
			return out, err
		}
		for _, l := range ls {
			out[i] = max(out[i], l.RPO)
		}
	}
	return out, nil
}

// sample records the write rate and the live RPO of the serving region
// every s.Sample until stop.
func (d *drill) sample(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(d.s.Sample)
	defer t.Stop()
	var (
		last   [2]int64
		lastAt time.Duration
	)
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		at := d.since()
		var counts [2]int64
		for tier := range tiers {
			counts[tier] = d.load.acked[tier].Load()
		}
		// The serving region's lag tracker, if it lives; a sample it
		// cannot answer in time is left out rather than delay the rates.
		var lag [2]time.Duration
		lagOK := false
		if w, err := d.route(); err == nil && !(w == d.a && d.killed.Load()) {
			lctx, cancel := context.WithTimeout(ctx, d.s.Sample/2)
			lag, err = d.lags(lctx, w)
			cancel()
			lagOK = err == nil
		}
		d.mu.Lock()
		for tier := range tiers {
			rate := float64(counts[tier]-last[tier]) / (at - lastAt).Seconds()
			d.mu.rates[tier] = append(d.mu.rates[tier], report.Point{At: at, Value: rate})
			last[tier] = counts[tier]
			if lagOK {
				d.mu.lags[tier] = append(d.mu.lags[tier], report.Point{At: at, Value: float64(lag[tier].Milliseconds())})
			}
		}
		d.mu.Unlock()
		lastAt = at
	}
}

// lossFound is what the standby lacked, per tier, of the writes the
// primary acknowledged.
type lossFound struct {
	acked   [2]int           // acknowledged by a
	missing [2]int           // of those, not in b at the failover
	age     [2]time.Duration // how long before the kill the oldest missing one was acknowledged
}

func (d *drill) loss(ctx context.Context, killAt time.Duration) (lossFound, error) {
	var out lossFound
	for tier, store := range []xregion.Store{d.env.B.Pay, d.env.B.Inv} {
		table := []string{payments, inventory}[tier]
		for _, a := range d.load.acks(tier) {
			if a.region != d.env.A.Name {
				continue
			}
			out.acked[tier]++
			ok, err := holds(ctx, store, table, a.key)
			if err != nil {
				return out, fmt.Errorf("look for %s in %s: %w", a.key, d.env.B.Name, err)
			}
			if !ok {
				out.missing[tier]++
				out.age[tier] = max(out.age[tier], killAt-a.at)
			}
		}
	}
	return out, nil
}

func holds(ctx context.Context, s xregion.Store, table, key string) (bool, error) {
	rec, err := s.Get(ctx, table, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return false, nil
	}
	return err == nil && !rec.Tombstone, err
}

// failback resyncs each tier's stores and verifies them equal.
func (d *drill) failback(ctx context.Context) ([2]*resync.Report, error) {
	var out [2]*resync.Report
	env := d.env
	pairs := [2]struct {
		a, b  xregion.Store
		table resync.Table
	}{
		{env.A.Pay, env.B.Pay, resync.Table{Name: payments, A: env.A.PayRes, B: env.B.PayRes}},
		{env.A.Inv, env.B.Inv, resync.Table{Name: inventory, A: env.A.InvRes, B: env.B.InvRes}},
	}
	for i, p := range pairs {
		rep, err := resync.Run(ctx, p.a, p.b, []resync.Table{p.table})
		if err != nil && !errors.Is(err, resync.ErrNotEqual) {
			return out, fmt.Errorf("failback of %s: %w", p.table.Name, err)
		}
		out[i] = rep
		unshipped := 0
		for _, g := range rep.Plan.Gaps {
			if g.From == env.A.Name {
				unshipped += g.Changes
			}
		}
		d.event(d.since(), report.EventFailback, "%s: %d records to %s (of %d writes %s never shipped), %d to %s, %d conflicts",
			tiers[i].label, rep.Applied.ToB, env.B.Name, unshipped, env.A.Name, rep.Applied.ToA, env.A.Name, rep.Applied.LostCount)
	}
	for i, rep := range out {
		if rep.Verified.Equal() {
			d.event(d.since(), report.EventVerified, "%s: %s and %s verified equal", tiers[i].label, env.A.Name, env.B.Name)
		} else {
			d.event(d.since(), report.EventVerified, "%s: %s and %s DIFFER", tiers[i].label, env.A.Name, env.B.Name)
		}
	}
	return out, nil
}

// everywhere counts, per tier, the acknowledged writes both regions hold
// after the failback, of all acknowledged.
func (d *drill) everywhere(ctx context.Context) (held, total [2]int, err error) {
	for tier := range tiers {
		table := []string{payments, inventory}[tier]
		stores := [2]xregion.Store{d.env.A.Pay, d.env.B.Pay}
		if tier == 1 {
			stores = [2]xregion.Store{d.env.A.Inv, d.env.B.Inv}
		}
		for _, a := range d.load.acks(tier) {
			total[tier]++
			both := true
			for _, s := range stores {
				ok, err := holds(ctx, s, table, a.key)
				if err != nil {
					return held, total, err
				}
				both = both && ok
			}
			if both {
				held[tier]++
			}
		}
	}
	return held, total, nil
}

// healthServer is one region's /health, served on a port of its own.
type healthServer struct {
	srv   *http.Server
	proxy *regiontest.Proxy
}

func (h *healthServer) close() {
	h.proxy.Close()
	h.srv.Close()
}

// serveHealth serves r's /health, checking its stores, behind a proxy; it
// returns the region's base URL, through the proxy.
func serveHealth(r Region) (*url.URL, *healthServer, error) {
	h, err := health.New(r.Name, health.WithStore("database", r.Pay), health.WithCacheFor(50*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/health", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	proxy, err := regiontest.NewProxy(ln.Addr().String())
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	u := &url.URL{Scheme: "http", Host: proxy.Addr()}
	return u, &healthServer{srv: srv, proxy: proxy}, nil
}

// sleep pauses the drill, which measures real time, on the system clock.
func sleep(ctx context.Context, d time.Duration) error {
	return wait.Sleep(ctx, xregion.SystemClock{}, d)
}
