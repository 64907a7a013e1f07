package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/xregion/xregion"
)

// Defaults of the options below.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultPauseAfter     = 30 * time.Second
	DefaultMaxBatchBytes  = 1_000_000
	DefaultFetchMaxBytes  = 1 << 20
	DefaultFetchMaxWait   = 250 * time.Millisecond
	DefaultLagInterval    = 5 * time.Second
)

// settleDelay separates the searches of the target that follow a publish
// the target refused for its sequence (see worker.verify).
const settleDelay = 200 * time.Millisecond

// Option configures New. Each option documents its default; New validates
// them all at once and says what is wrong.
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	logger         *slog.Logger
	metrics        *Metrics
	mapping        Mapping
	deadLetter     string
	idHeader       string
	fromName       string
	toName         string
	startOffset    int64
	sessionTimeout time.Duration
	requestTimeout time.Duration
	minBackoff     time.Duration
	maxBackoff     time.Duration
	pauseAfter     time.Duration
	maxBatchBytes  int
	fetchMaxBytes  int
	fetchMaxWait   time.Duration
	lagInterval    time.Duration
	settle         time.Duration
	compression    kafka.Compression
	clock          xregion.Timers
	tls            [2]*tls.Config
	sasl           [2]sasl.Mechanism

	// Set only by tests (export_test.go).
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	hooks hooks
}

// hooks are called at the points where a crash hurts most, so tests can
// crash the bridge exactly there. All are nil outside tests.
type hooks struct {
	assigned      func(topic string, partitions []int) // a generation's workers are about to start
	beforePublish func(topic string, partition int, batch int)
	afterPublish  func(topic string, partition int) // a batch is acknowledged, its offset not yet committed
	beforeCommit  func()                            // a commit is about to be sent
}

func newConfig(opts []Option) config {
	c := config{
		logger:         slog.New(slog.DiscardHandler),
		mapping:        SamePartition,
		startOffset:    kafka.FirstOffset,
		sessionTimeout: DefaultSessionTimeout,
		requestTimeout: DefaultRequestTimeout,
		minBackoff:     DefaultMinBackoff,
		maxBackoff:     DefaultMaxBackoff,
		pauseAfter:     DefaultPauseAfter,
		maxBatchBytes:  DefaultMaxBatchBytes,
		fetchMaxBytes:  DefaultFetchMaxBytes,
		fetchMaxWait:   DefaultFetchMaxWait,
		lagInterval:    DefaultLagInterval,
		settle:         settleDelay,
		clock:          xregion.SystemClock{},
	}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}

func (c *config) validate() error {
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"WithSessionTimeout", c.sessionTimeout},
		{"WithRequestTimeout", c.requestTimeout},
		{"WithBackoff minimum", c.minBackoff},
		{"WithBackoff maximum", c.maxBackoff},
		{"WithPauseAfter", c.pauseAfter},
		{"WithFetchMaxWait", c.fetchMaxWait},
		{"WithLagInterval", c.lagInterval},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return invalid("option "+p.name, "%s is not positive; want a duration above zero", p.d)
		}
	}
	if c.maxBackoff < c.minBackoff {
		return invalid("option WithBackoff", "maximum %s is below minimum %s", c.maxBackoff, c.minBackoff)
	}
	if c.clock == nil {
		return invalid("option WithTimers", "nil; want a clock such as xregion.SystemClock{}")
	}
	if c.sessionTimeout < 10*time.Millisecond {
		return invalid("option WithSessionTimeout", "%s is too short to heartbeat in; want at least 10ms", c.sessionTimeout)
	}
	if c.maxBatchBytes < 1024 {
		return invalid("option WithMaxBatchBytes", "%d bytes cannot hold a batch; want at least 1024", c.maxBatchBytes)
	}
	if c.fetchMaxBytes < 1024 {
		return invalid("option WithFetchMaxBytes", "%d bytes cannot hold a batch; want at least 1024", c.fetchMaxBytes)
	}
	if c.startOffset != kafka.FirstOffset && c.startOffset != kafka.LastOffset {
		return invalid("option WithStartOffset", "%d is neither kafka.FirstOffset nor kafka.LastOffset", c.startOffset)
	}
	if c.compression < 0 || c.compression > kafka.Zstd {
		return invalid("option WithCompression", "unknown codec %d; want kafka.Gzip, Snappy, Lz4 or Zstd", c.compression)
	}
	if c.mapping != SamePartition && c.mapping != KeyHash {
		return invalid("option WithMapping", "unknown mapping %d; want SamePartition or KeyHash", c.mapping)
	}
	if c.logger == nil {
		return invalid("option WithLogger", "nil logger; leave the option out to discard logs")
	}
	for _, n := range []struct{ what, name string }{{"source", c.fromName}, {"target", c.toName}} {
		if err := checkClusterName(n.name); n.name != "" && err != nil {
			return invalid("option WithNames", "%s name: %v", n.what, err)
		}
	}
	if (c.fromName == "") != (c.toName == "") {
		return invalid("option WithNames", "name both clusters or neither")
	}
	if c.fromName != "" && c.fromName == c.toName {
		return invalid("option WithNames", "source and target are both named %q; a bridge joins two clusters", c.fromName)
	}
	if c.deadLetter != "" {
		if err := checkTopic(c.deadLetter); err != nil {
			return invalid("option WithDeadLetter", "%v", err)
		}
	}
	if strings.HasPrefix(c.idHeader, headerPrefix) {
		return invalid("option WithIDHeader", "%q is in the bridge's own header namespace %q", c.idHeader, headerPrefix)
	}
	return nil
}

// checkClusterName refuses names that would break the hop list, which
// separates names with commas.
func checkClusterName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty")
	case strings.ContainsAny(name, ", \t\n"):
		return fmt.Errorf("%q contains a comma or white space", name)
	case len(name) > 249:
		return fmt.Errorf("%q is longer than 249 bytes", name)
	}
	return nil
}

// checkTopic applies Kafka's rules for topic names.
func checkTopic(t string) error {
	if t == "" || t == "." || t == ".." || len(t) > 249 {
		return fmt.Errorf("topic name %q: want 1 to 249 characters, not . or ..", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q: want only ASCII letters, digits, '.', '_' and '-'", t)
		}
	}
	return nil
}

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: "bridge " + what, Reason: fmt.Sprintf(format, args...)}
}

// WithLogger sets the logger: lifecycle at Info, retries at Debug, paused
// and stopped partitions and records lost to retention at Error. A cluster
// that does not answer or a group that cannot be joined is logged at Warn
// once, not at every retry, and its recovery at Info. Default: discard.
func WithLogger(l *slog.Logger) Option { return option(func(c *config) { c.logger = l }) }

// WithTimers sets the clock the bridge's scheduled work runs on (backoff,
// WithLagInterval, WithPauseAfter, the times it reports) and that message ages are
// measured against, which must therefore be the clock the producers'
// timestamps come from. Deadlines of requests to the clusters, and the
// consumer group's own timing inside kafka-go, stay on the real clock.
// Default xregion.SystemClock.
func WithTimers(c xregion.Timers) Option { return option(func(cfg *config) { cfg.clock = c }) }

// WithMetrics makes the bridge report to m, which the caller registers with
// its Prometheus registry. Several bridges may share one Metrics: every
// series is labelled with the source and target cluster names. Default: no
// metrics.
func WithMetrics(m *Metrics) Option { return option(func(c *config) { c.metrics = m }) }

// Mapping decides which target partition a message goes to.
type Mapping int

const (
	// SamePartition sends each message to the target partition with its
	// source partition's number, keeping the source's order entirely. The
	// bridge refuses to start when a topic's partition counts differ.
	SamePartition Mapping = iota
	// KeyHash sends each message to murmur2(key) modulo the target's
	// partition count, as Kafka's Java producer partitions keyed messages;
	// messages without a key keep their source partition number modulo the
	// target's count. Messages with the same key stay in order; messages
	// with different keys from one source partition may be reordered
	// against each other (cross-key order is lost), and Translate is
	// refused.
	KeyHash
)

func (m Mapping) String() string {
	if m == KeyHash {
		return "key-hash"
	}
	return "same-partition"
}

// WithMapping sets how partitions map when the counts differ. Default
// SamePartition, which refuses to bridge topics whose partition counts
// differ.
func WithMapping(m Mapping) Option { return option(func(c *config) { c.mapping = m }) }

// WithDeadLetter names a topic in the target cluster for messages the target
// refuses for good (too large, invalid). Each goes there with its headers,
// the provenance headers and HeaderReason, and the partition carries on.
// The topic is created, with one partition, if it does not exist. Default:
// none, and such a message stops its partition (reported in Lag, metrics
// and logs) until the bridge restarts.
func WithDeadLetter(topic string) Option { return option(func(c *config) { c.deadLetter = topic }) }

// WithIDHeader names the header that carries the source's own message id. When
// a message has it (and no HeaderID from an earlier hop), its value becomes
// the message's HeaderID. Default: none; the id is derived from the
// provenance.
func WithIDHeader(name string) Option { return option(func(c *config) { c.idHeader = name }) }

// WithNames sets the names the bridge records for the two clusters in the
// provenance headers and uses to prevent echoes. Every bridge must call a
// cluster by the same name. The names must not contain commas or white space.
// Default: each cluster's Kafka cluster id.
func WithNames(from, to string) Option {
	return option(func(c *config) { c.fromName, c.toName = from, to })
}

// WithStartOffset is where a source partition is read from when nothing says
// where the bridge stands (no committed offset, nothing bridged yet):
// kafka.FirstOffset or kafka.LastOffset. Default kafka.FirstOffset, so a new
// bridge copies what the topic already holds.
func WithStartOffset(offset int64) Option { return option(func(c *config) { c.startOffset = offset }) }

// WithSessionTimeout is the consumer group session: a bridge process that has
// not been heard from for this long loses its partitions to the others.
// Heartbeats go every tenth of it. Default DefaultSessionTimeout.
func WithSessionTimeout(d time.Duration) Option {
	return option(func(c *config) { c.sessionTimeout = d })
}

// WithRequestTimeout bounds each request to either cluster; a produce request
// that times out is checked against the target before it is retried.
// Default DefaultRequestTimeout.
func WithRequestTimeout(d time.Duration) Option {
	return option(func(c *config) { c.requestTimeout = d })
}

// WithBackoff sets the wait between retries of a failing partition: it starts
// at min and doubles up to max, with jitter. Default DefaultMinBackoff and
// DefaultMaxBackoff.
func WithBackoff(min, max time.Duration) Option {
	return option(func(c *config) { c.minBackoff, c.maxBackoff = min, max })
}

// WithPauseAfter is how long a partition may keep failing before it is
// reported paused. A paused partition still retries, every maximum backoff,
// and resumes by itself when the failure passes; the others carry on
// meanwhile. Default DefaultPauseAfter.
func WithPauseAfter(d time.Duration) Option { return option(func(c *config) { c.pauseAfter = d }) }

// WithMaxBatchBytes bounds one produce batch; keep it under the target topics'
// max.message.bytes (Kafka's default is 1,048,588). A batch the target
// finds too large anyway is split, and the bound lowered for that
// partition. Default DefaultMaxBatchBytes.
func WithMaxBatchBytes(n int) Option { return option(func(c *config) { c.maxBatchBytes = n }) }

// WithFetchMaxBytes bounds one fetch from a source partition. Default
// DefaultFetchMaxBytes.
func WithFetchMaxBytes(n int) Option { return option(func(c *config) { c.fetchMaxBytes = n }) }

// WithFetchMaxWait is how long the source may hold a fetch on an idle partition
// before answering with nothing. Default DefaultFetchMaxWait.
func WithFetchMaxWait(d time.Duration) Option { return option(func(c *config) { c.fetchMaxWait = d }) }

// WithCompression compresses the batches published to the target with c
// (kafka.Gzip, kafka.Snappy, kafka.Lz4 or kafka.Zstd): worth it between
// regions, where bandwidth costs. A batch that does not shrink is sent as
// it is. Default: none.
func WithCompression(c kafka.Compression) Option {
	return option(func(cfg *config) { cfg.compression = c })
}

// TLS secures the connections to the source (from) and the target (to);
// nil leaves that cluster in plain text. Default: plain text.
func WithTLS(from, to *tls.Config) Option {
	return option(func(c *config) { c.tls = [2]*tls.Config{from, to} })
}

// SASL authenticates to the source (from) and the target (to) with the
// given mechanisms (see kafka-go's sasl/plain and sasl/scram); nil for
// none. Default: none.
func WithSASL(from, to sasl.Mechanism) Option {
	return option(func(c *config) { c.sasl = [2]sasl.Mechanism{from, to} })
}

// WithLagInterval is how often the lag of every assigned partition, idle or not,
// is measured against the source and the target is checked for an answer.
// Default DefaultLagInterval.
func WithLagInterval(d time.Duration) Option { return option(func(c *config) { c.lagInterval = d }) }
