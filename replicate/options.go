package replicate

import (
	"log/slog"
	"time"

	"github.com/xregion/xregion"
)

// Defaults of the options below.
const (
	DefaultBatchSize     = 1000
	DefaultMaxBatchBytes = 8 << 20
	DefaultPollInterval  = 10 * time.Millisecond
	DefaultHeartbeat     = time.Second
	DefaultMaxBackoff    = 2 * time.Second
	DefaultDegradeAfter  = 5 * time.Second
	DefaultLocalInFlight = 4
	DefaultMaxInFlight   = 16
	DefaultSnapshotEvery = 5 * time.Minute
)

// Option configures a replicator. Each documents its default; New functions
// validate them once and say what is wrong.
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	tier          *Tier
	batchSize     int
	maxBatchBytes int
	pollInterval  time.Duration
	heartbeat     time.Duration
	maxBackoff    time.Duration
	logger        *slog.Logger
	onAlert       func(Alert)
	guardrail     Guardrail
	metrics       *Metrics
	localInFlight int
	clock         xregion.Timers

	// sync only
	maxInFlight  int
	policy       Policy
	quorum       int
	degradeAfter time.Duration

	// snapshot only
	every time.Duration

	retention *Retention // WithRetention; nil: none
}

func newConfig(opts []Option) config {
	c := config{
		batchSize:     DefaultBatchSize,
		maxBatchBytes: DefaultMaxBatchBytes,
		pollInterval:  DefaultPollInterval,
		heartbeat:     DefaultHeartbeat,
		maxBackoff:    DefaultMaxBackoff,
		logger:        slog.New(slog.DiscardHandler),
		onAlert:       func(Alert) {},
		policy:        Strict,
		degradeAfter:  DefaultDegradeAfter,
		localInFlight: DefaultLocalInFlight,
		clock:         xregion.SystemClock{},
		maxInFlight:   DefaultMaxInFlight,
		every:         DefaultSnapshotEvery,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}

// WithTier declares the tier the replicator serves. The constructor refuses a
// configuration that cannot meet the tier's RPO, and the lag is checked
// against it: see WithAlerts and WithGuardrail. Default: no tier.
func WithTier(t Tier) Option { return option(func(c *config) { c.tier = &t }) }

// WithBatchSize is the most changes shipped in one batch. Default
// DefaultBatchSize.
func WithBatchSize(n int) Option { return option(func(c *config) { c.batchSize = n }) }

// WithMaxBatchBytes bounds the keys and values one batch carries, shipped or
// staged, whatever WithBatchSize allows; a write larger than it goes alone. A
// batch the peer refuses as too large (xregion.ErrTooLarge) is split, and
// later batches are kept to the size that passed. Default
// DefaultMaxBatchBytes.
func WithMaxBatchBytes(n int) Option { return option(func(c *config) { c.maxBatchBytes = n }) }

// WithPollInterval is how often an idle shipper looks for new changes; Notify
// wakes it sooner. Default DefaultPollInterval.
func WithPollInterval(d time.Duration) Option { return option(func(c *config) { c.pollInterval = d }) }

// WithHeartbeat is how often an idle replicator checks that each peer still
// answers, so a dead idle link shows in LastContact. Default
// DefaultHeartbeat.
func WithHeartbeat(d time.Duration) Option { return option(func(c *config) { c.heartbeat = d }) }

// WithMaxBackoff caps the wait between retries to a failing peer; waits grow
// exponentially from WithPollInterval, half of each wait random. Default
// DefaultMaxBackoff.
func WithMaxBackoff(d time.Duration) Option { return option(func(c *config) { c.maxBackoff = d }) }

// WithTimers sets the clock the replicator's scheduled work runs on: polls,
// heartbeats, backoff, degrading a silent peer, the times it reports.
// Deadlines of calls to the stores stay on the real clock. Tests pass an
// xregion.ManualClock to move time by hand. Default xregion.SystemClock.
func WithTimers(c xregion.Timers) Option { return option(func(cfg *config) { cfg.clock = c }) }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return option(func(c *config) { c.logger = l }) }

// WithAlerts is called, from the replicator's goroutines, whenever a peer
// crosses a line an operator must hear about: its RPO passed the tier's
// target, a synchronous peer was degraded to asynchronous, or it recovered.
// It must not block. Default: nothing.
func WithAlerts(f func(Alert)) Option { return option(func(c *config) { c.onAlert = f }) }

// Policy decides what a synchronous replicator does when a peer stops
// answering.
type Policy int

const (
	// Strict fails a write that its peers have not acknowledged by the
	// write's deadline. Nothing is acknowledged that a peer lacks.
	Strict Policy = iota
	// Degrade waits WithDegradeAfter for a silent peer, then carries on without
	// it, reports the RPO that is now non-zero, alerts, and returns to
	// synchronous once the peer has caught up.
	Degrade
)

func (p Policy) String() string {
	if p == Degrade {
		return "degrade"
	}
	return "strict"
}

// WithPolicy sets the synchronous replicator's policy. Default Strict.
func WithPolicy(p Policy) Option { return option(func(c *config) { c.policy = p }) }

// WithQuorum makes a synchronous write wait for k of its peers (ANY k) instead
// of all of them. Default: all.
func WithQuorum(k int) Option { return option(func(c *config) { c.quorum = k }) }

// WithDegradeAfter is how long a Degrade replicator waits for a silent peer
// before it carries on without it. Default DefaultDegradeAfter.
func WithDegradeAfter(d time.Duration) Option { return option(func(c *config) { c.degradeAfter = d }) }

// WithLocalInFlight bounds the transactions a replicator has in flight in the
// local store at a time; writes that arrive while every slot is busy share
// the next transaction (group commit). The local store answers in a
// millisecond or less, so a few slots keep it busy, and fewer transactions
// carry more writes each: with 16 writers on PostgreSQL, 4 slots committed
// 4,500 async writes/s where 16 slots committed 2,800. Default
// DefaultLocalInFlight.
func WithLocalInFlight(n int) Option { return option(func(c *config) { c.localInFlight = n }) }

// WithMaxInFlight bounds the batches of writes a synchronous replicator has in
// flight to each peer at a time; writes that arrive while every slot is busy
// share the next batch. A peer is a round trip away, so a write that finds
// every slot busy waits for one to come back: give a slot to each writer
// you expect, up to the connections the peer's pool allows. Default
// DefaultMaxInFlight.
func WithMaxInFlight(n int) Option { return option(func(c *config) { c.maxInFlight = n }) }

// Every sets a snapshot replicator's interval. Default
// DefaultSnapshotEvery.
func WithEvery(d time.Duration) Option { return option(func(c *config) { c.every = d }) }
