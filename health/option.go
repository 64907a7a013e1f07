package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xregion/xregion"
)

// Defaults of the options.
const (
	// DefaultCacheFor is how long a Handler serves one round of checks.
	DefaultCacheFor = time.Second
	// DefaultCheckTimeout bounds each check of WithStore and WithKafka, and
	// each call of WithLag's Lagger.
	DefaultCheckTimeout = 2 * time.Second
	// DefaultInterval is how often a Detector probes its target.
	DefaultInterval = 10 * time.Second
	// DefaultFailures is how many consecutive failed probes declare a
	// target down.
	DefaultFailures = 3
	// DefaultSuccesses is how many consecutive successful probes declare a
	// down target up again.
	DefaultSuccesses = 2
)

// Option configures a Handler (New) or a Detector (NewDetector). Each
// option's doc says which it applies to; a constructor refuses an option
// that does not apply to what it builds.
type Option interface{ apply(*config) }

type use uint8

const (
	forHandler use = 1 << iota
	forDetector
	forBoth = forHandler | forDetector
)

type option struct {
	name string
	use  use
	fn   func(*config)
}

func (o option) apply(c *config) {
	if o.use&c.building == 0 {
		c.errs = append(c.errs, fmt.Errorf("%s does not apply to a %s", o.name, c.building))
		return
	}
	o.fn(c)
}

func (u use) String() string {
	if u == forHandler {
		return "Handler"
	}
	return "Detector"
}

// check is one named check of a Handler.
type check struct {
	name     string
	critical bool
	timeout  time.Duration
	fn       func(ctx context.Context) error
}

// lagSource is one Lagger of a Handler with its tier.
type lagSource struct {
	tier   string
	target time.Duration
	lagger xregion.Lagger
}

type config struct {
	building use
	errs     []error
	region   xregion.Region // the Handler's

	logger *slog.Logger
	wall   xregion.WallClock // the Handler's clock
	timers xregion.Timers    // the Detector's clock

	// Handler.
	checks   []check
	lags     []lagSource
	cacheFor time.Duration

	// Detector.
	interval     time.Duration
	probeTimeout time.Duration
	failures     int
	successes    int
	onTransition func(Transition)
	metrics      *Metrics
}

func newConfig(building use, region xregion.Region, opts []Option) (config, error) {
	c := config{
		building:  building,
		region:    region,
		logger:    slog.New(slog.DiscardHandler),
		wall:      xregion.SystemClock{},
		timers:    xregion.SystemClock{},
		cacheFor:  DefaultCacheFor,
		interval:  DefaultInterval,
		failures:  DefaultFailures,
		successes: DefaultSuccesses,
	}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("nil option"))
			continue
		}
		o.apply(&c)
	}
	if c.probeTimeout == 0 {
		c.probeTimeout = c.interval / 2
	}
	if err := errors.Join(c.errs...); err != nil {
		return c, invalid("health options", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// invalid is the error of bad input: it wraps xregion.ErrInvalid.
func invalid(what, reason string) error { return &xregion.InvalidError{What: what, Reason: reason} }

// WithCheck adds a check named name, run with fn on every round of the
// Handler's checks and given at most timeout (positive) to return nil. A
// critical check that fails makes the status DOWN, another DEGRADED. Names
// are unique; they become the keys of the report's "checks". Handler only.
func WithCheck(name string, critical bool, timeout time.Duration, fn func(ctx context.Context) error) Option {
	return option{"WithCheck", forHandler, func(c *config) {
		switch {
		case name == "":
			c.errs = append(c.errs, errors.New("WithCheck: empty name; name each check (\"database\", \"messaging\")"))
		case fn == nil:
			c.errs = append(c.errs, fmt.Errorf("WithCheck %q: nil function", name))
		case timeout <= 0:
			c.errs = append(c.errs, fmt.Errorf("WithCheck %q: timeout %v; want a positive duration, e.g. %v", name, timeout, DefaultCheckTimeout))
		}
		c.checks = append(c.checks, check{name: name, critical: critical, timeout: timeout, fn: fn})
	}}
}

// WithStore adds a critical check named name of s's reachability (see
// StoreCheck), with DefaultCheckTimeout. For another timeout or a
// non-critical store, use WithCheck with StoreCheck. Handler only.
func WithStore(name string, s xregion.Store) Option {
	return option{"WithStore", forHandler, func(c *config) {
		if s == nil {
			c.errs = append(c.errs, fmt.Errorf("WithStore %q: nil store", name))
			return
		}
		WithCheck(name, true, DefaultCheckTimeout, StoreCheck(s, c.region)).apply(c)
	}}
}

// WithKafka adds a critical check named name of the Kafka cluster at
// brokers (see KafkaCheck), with DefaultCheckTimeout. Handler only.
func WithKafka(name string, brokers []string) Option {
	return option{"WithKafka", forHandler, func(c *config) {
		if len(brokers) == 0 {
			c.errs = append(c.errs, fmt.Errorf("WithKafka %q: no brokers; want at least one host:port", name))
			return
		}
		WithCheck(name, true, DefaultCheckTimeout, KafkaCheck(brokers)).apply(c)
	}}
}

// WithLag reports the links of l in the report's "replication", labelled
// with tier, and compares each link's live RPO with target (the tier's RPO
// target, e.g. replicate.Tier2.RPO). Each call of l gets
// DefaultCheckTimeout. Several may be given, one per tier. Handler only.
func WithLag(tier string, target time.Duration, l xregion.Lagger) Option {
	return option{"WithLag", forHandler, func(c *config) {
		switch {
		case l == nil:
			c.errs = append(c.errs, fmt.Errorf("WithLag %q: nil Lagger", tier))
		case tier == "":
			c.errs = append(c.errs, errors.New("WithLag: empty tier; name it (\"tier1\")"))
		case target < 0:
			c.errs = append(c.errs, fmt.Errorf("WithLag %q: negative target %v", tier, target))
		}
		c.lags = append(c.lags, lagSource{tier: tier, target: target, lagger: l})
	}}
}

// WithCacheFor serves one round of checks for d before running them again;
// 0 runs them on every request (still one round for concurrent requests).
// Default DefaultCacheFor. Handler only.
func WithCacheFor(d time.Duration) Option {
	return option{"WithCacheFor", forHandler, func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithCacheFor: negative duration %v", d))
		}
		c.cacheFor = d
	}}
}

// WithWallClock sets the clock of the report's timestamps, of the time since
// a peer's last contact, and of the cache. Default xregion.SystemClock.
// Handler only; a Detector takes WithTimers.
func WithWallClock(w xregion.WallClock) Option {
	return option{"WithWallClock", forHandler, func(c *config) {
		if w == nil {
			c.errs = append(c.errs, errors.New("WithWallClock: nil clock"))
			return
		}
		c.wall = w
	}}
}

// WithLogger logs what the report leaves out: each failed check's error,
// and a Detector's transitions. Default: nothing is logged. Both.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", forBoth, func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("WithLogger: nil logger"))
			return
		}
		c.logger = l
	}}
}

// WithTimers sets the clock the Detector waits its interval on and stamps
// transitions with. Default xregion.SystemClock. Probe timeouts stay on the
// real clock: they are network deadlines. Detector only.
func WithTimers(t xregion.Timers) Option {
	return option{"WithTimers", forDetector, func(c *config) {
		if t == nil {
			c.errs = append(c.errs, errors.New("WithTimers: nil clock"))
			return
		}
		c.timers = t
	}}
}

// WithInterval probes every d (positive). Default DefaultInterval.
// Detector only.
func WithInterval(d time.Duration) Option {
	return option{"WithInterval", forDetector, func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithInterval: %v; want a positive duration, e.g. %v", d, DefaultInterval))
		}
		c.interval = d
	}}
}

// WithProbeTimeout gives each probe at most d (positive, at most the
// interval). Default: half the interval. Detector only.
func WithProbeTimeout(d time.Duration) Option {
	return option{"WithProbeTimeout", forDetector, func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithProbeTimeout: %v; want a positive duration", d))
		}
		c.probeTimeout = d
	}}
}

// WithThresholds declares the target down after down consecutive failed
// probes and up again after up consecutive successful ones (both at least
// 1). Default DefaultFailures and DefaultSuccesses. Detector only.
func WithThresholds(down, up int) Option {
	return option{"WithThresholds", forDetector, func(c *config) {
		if down < 1 || up < 1 {
			c.errs = append(c.errs, fmt.Errorf("WithThresholds: %d failures, %d successes; want at least 1 of each, e.g. %d and %d",
				down, up, DefaultFailures, DefaultSuccesses))
		}
		c.failures, c.successes = down, up
	}}
}

// WithTransition calls fn on each transition, from the Detector's Run
// goroutine: fn should return quickly. Default: none. Detector only.
func WithTransition(fn func(Transition)) Option {
	return option{"WithTransition", forDetector, func(c *config) { c.onTransition = fn }}
}

// WithMetrics records the Detector's probes and verdicts in m. Default:
// none. Detector only.
func WithMetrics(m *Metrics) Option {
	return option{"WithMetrics", forDetector, func(c *config) { c.metrics = m }}
}
