package health

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// Transition is a change of a Detector's verdict.
type Transition struct {
	Target string
	Up     bool      // the verdict reached
	At     time.Time // on the Detector's clock, when the deciding probe ended
	// Failures is how many consecutive probes had failed when the target
	// was declared down; 0 for a transition up.
	Failures int
}

// Verdict is a Detector's current view of its target.
type Verdict struct {
	Up bool
	// Since is when the verdict was reached; the zero time for the initial
	// verdict (up) if it never changed.
	Since time.Time
	// Failures and Successes count the consecutive probes of the current
	// run; one of them is 0.
	Failures, Successes int
	// Probes counts every probe so far.
	Probes int64
}

// Detector probes one target every interval and declares it down after N
// consecutive failed probes, up again after M consecutive successful ones.
// It starts believing the target up. It decides only; it never fails over.
// A Detector is safe for concurrent use; run one Run at a time.
type Detector struct {
	target    string
	probe     Probe
	interval  time.Duration
	timeout   time.Duration
	failures  int
	successes int
	timers    xregion.Timers
	notify    func(Transition)
	metrics   *Metrics
	logger    *slog.Logger

	mu struct {
		sync.Mutex
		v Verdict
	}
}

// NewDetector returns a Detector of target (a name for reports and
// metrics, such as the peer region's) that asks probe. Options:
// WithInterval, WithProbeTimeout, WithThresholds, WithTimers,
// WithTransition, WithMetrics, WithLogger.
func NewDetector(target string, probe Probe, opts ...Option) (*Detector, error) {
	if target == "" {
		return nil, fmt.Errorf("health: new detector: %w", invalid("detector target", "empty; name it (the peer region's name)"))
	}
	if probe == nil {
		return nil, fmt.Errorf("health: new detector: %w", invalid("detector probe", "nil; use HTTPProbe or a func(ctx) error"))
	}
	c, err := newConfig(forDetector, "", opts)
	if err != nil {
		return nil, fmt.Errorf("health: new detector: %w", err)
	}
	if c.probeTimeout > c.interval {
		return nil, fmt.Errorf("health: new detector: %w", invalid("probe timeout",
			fmt.Sprintf("%v is longer than the interval %v; want at most the interval", c.probeTimeout, c.interval)))
	}
	d := &Detector{target: target, probe: probe, interval: c.interval, timeout: c.probeTimeout,
		failures: c.failures, successes: c.successes, timers: c.timers, notify: c.onTransition,
		metrics: c.metrics, logger: c.logger}
	d.mu.v.Up = true
	d.metrics.verdict(target, true)
	return d, nil
}

// Run probes at once and then every interval, measured from the start of
// one probe to the start of the next (a probe that takes longer delays the
// next), until ctx ends; it returns ctx's error.
func (d *Detector) Run(ctx context.Context) error {
	for {
		start := d.timers.Now()
		d.probeOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		next := d.interval - d.timers.Now().Sub(start)
		if err := wait.Sleep(ctx, d.timers, next); err != nil {
			return err
		}
	}
}

// State returns the current verdict.
func (d *Detector) State() Verdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.v
}

func (d *Detector) probeOnce(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, d.timeout)
	err := d.probe(pctx)
	late := err != nil && timedOut(pctx, err)
	cancel()
	if ctx.Err() != nil {
		return // not a verdict on the target
	}
	result := "success"
	switch {
	case late:
		result = "timeout"
	case err != nil:
		result = "failure"
	}
	d.metrics.probed(d.target, result)

	t, changed := d.record(err == nil, d.timers.Now())
	if err != nil {
		d.logger.Debug("health: probe failed", "target", d.target, "result", result, "err", err)
	}
	if !changed {
		return
	}
	d.metrics.verdict(d.target, t.Up)
	d.metrics.transition(d.target, t.Up)
	d.logger.Info("health: target verdict changed", "target", d.target, "up", t.Up, "failures", t.Failures)
	if d.notify != nil {
		d.notify(t)
	}
}

// record counts one probe and applies the thresholds.
func (d *Detector) record(ok bool, now time.Time) (Transition, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := &d.mu.v
	v.Probes++
	if ok {
		v.Failures = 0
		v.Successes++
	} else {
		v.Successes = 0
		v.Failures++
	}
	switch {
	case v.Up && v.Failures >= d.failures:
		v.Up, v.Since = false, now
		return Transition{Target: d.target, Up: false, At: now, Failures: v.Failures}, true
	case !v.Up && v.Successes >= d.successes:
		v.Up, v.Since = true, now
		return Transition{Target: d.target, Up: true, At: now}, true
	}
	return Transition{}, false
}
