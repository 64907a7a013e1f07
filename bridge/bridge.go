package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xregion/xregion/internal/wait"
)

// Bridge copies topics from a source Kafka cluster to a target one, in order
// per partition, acknowledging the source only after the target has the
// messages, and never publishing a message twice or back to a cluster it
// came from. See the package documentation for what it guarantees.
//
// A Bridge is safe for concurrent use: Lag, Translate and FailoverGroup may
// be called while Run runs. Run runs once.
type Bridge struct {
	from, to []string
	group    string
	topics   []string
	cfg      config
	started  atomic.Bool

	mu struct {
		sync.Mutex
		fromName, toName string
		held             map[topicPartition]*partition // source partitions this process bridges now
		running          bool
		lastErr          error     // the last error outside any partition (group, setup), nil once past
		failingSince     time.Time // when lastErr went from nil to an error; zero while nil
		lastContact      time.Time
	}
}

type topicPartition struct {
	topic     string
	partition int
}

// New creates a bridge from the brokers of the source cluster (from) to
// those of the target cluster (to) for topics, consuming them in the source
// as consumer group group. Processes sharing group share the partitions.
// The topics keep their names in the target. New does no I/O; Run connects.
// An empty broker list, or an empty address in one, is an error wrapping
// xregion.ErrInvalid.
func New(from, to []string, group string, topics []string, opts ...Option) (*Bridge, error) {
	switch {
	case len(from) == 0:
		return nil, invalid("source brokers", "none given; want at least one host:port")
	case len(to) == 0:
		return nil, invalid("target brokers", "none given; want at least one host:port")
	case blank(from) >= 0:
		return nil, invalid("source brokers", "entry %d is empty; want host:port", blank(from))
	case blank(to) >= 0:
		return nil, invalid("target brokers", "entry %d is empty; want host:port", blank(to))
	case group == "":
		return nil, invalid("group", "empty; want the consumer group the bridge reads the source as")
	case len(topics) == 0:
		return nil, invalid("topics", "none given; want at least one topic to bridge")
	}
	seen := map[string]bool{}
	for _, t := range topics {
		if err := checkTopic(t); err != nil {
			return nil, invalid("topics", "%v", err)
		}
		if seen[t] {
			return nil, invalid("topics", "%q named twice", t)
		}
		seen[t] = true
	}
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if seen[cfg.deadLetter] {
		return nil, invalid("option WithDeadLetter", "%q is also a topic to bridge", cfg.deadLetter)
	}
	b := &Bridge{
		from:   append([]string(nil), from...),
		to:     append([]string(nil), to...),
		group:  group,
		topics: append([]string(nil), topics...),
		cfg:    cfg,
	}
	b.mu.fromName, b.mu.toName = cfg.fromName, cfg.toName
	b.mu.held = map[topicPartition]*partition{}
	return b, nil
}

// blank returns the index of the first empty broker address, or -1. An
// empty address would be dialled as the local host's default port.
func blank(brokers []string) int {
	return slices.IndexFunc(brokers, func(b string) bool { return strings.TrimSpace(b) == "" })
}

// run is one Run: the clients of both clusters and what was learned about
// them.
type run struct {
	b        *Bridge
	cfg      *config
	src, dst *kafka.Client
	srcT     *kafka.Transport
	dstT     *kafka.Transport
	from, to string // cluster names
	dlqParts int
	counts   atomic.Pointer[map[string][2]int] // per topic: partitions in the source and in the target
}

func (r *run) setCounts(c map[string][2]int) { r.counts.Store(&c) }

// targetCount is the number of partitions topic has in the target, 0 if
// not known yet.
func (r *run) targetCount(topic string) int {
	if c := r.counts.Load(); c != nil {
		return (*c)[topic][1]
	}
	return 0
}

// Run bridges until ctx is done, then returns ctx's error. It returns
// earlier only for a configuration it cannot bridge: a topic missing from
// the source (ErrMissingTopic) or partition counts that differ under
// SamePartition (*PartitionMismatchError). Unreachable clusters are not
// errors: Run waits for them, Lag reports the bridge failing, with the
// error, until they answer, and the log says so at Warn once.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	r := b.newRun()
	defer r.close()
	b.setRunning(true)
	defer b.setRunning(false)

	if err := r.prepare(ctx); err != nil {
		return err
	}
	b.cfg.logger.Info("bridge starting", "from", r.from, "to", r.to, "group", b.group, "topics", b.topics)

	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:      b.group,
		Brokers: b.from,
		Dialer: &kafka.Dialer{ClientID: clientID, Timeout: b.cfg.requestTimeout, DialFunc: b.dial(),
			TLS: b.cfg.tls[0], SASLMechanism: b.cfg.sasl[0]},
		Topics:                 b.topics,
		HeartbeatInterval:      b.cfg.sessionTimeout / 10,
		SessionTimeout:         b.cfg.sessionTimeout,
		RebalanceTimeout:       b.cfg.sessionTimeout + b.cfg.requestTimeout,
		JoinGroupBackoff:       min(b.cfg.sessionTimeout/10, b.cfg.maxBackoff),
		WatchPartitionChanges:  true,
		PartitionWatchInterval: b.cfg.lagInterval,
		StartOffset:            b.cfg.startOffset,
		Timeout:                b.cfg.requestTimeout,
		Logger:                 b.kafkaLogger(),
		ErrorLogger:            b.kafkaLogger(),
	})
	if err != nil {
		return fmt.Errorf("bridge: consumer group: %w", err)
	}

	var wg sync.WaitGroup
	wg.Go(func() { r.lagLoop(ctx) })
	defer wg.Wait()
	defer cg.Close() // before wg.Wait: it ends the generation the workers run in

	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, kafka.RebalanceInProgress) {
				continue // the group is settling; kafka-go joins again
			}
			b.setErr(fmt.Errorf("join group %s: %w", b.group, err))
			b.cfg.logger.Debug("bridge retrying", "what", "join group", "group", b.group, "err", err)
			continue
		}
		b.setErr(nil)
		gen.Start(func(gctx context.Context) {
			if err := r.generation(ctx, gctx, gen); err != nil {
				fail(err)
			}
		})
	}
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return ctx.Err()
}

const clientID = "xregion-bridge"

// kafkaLogger passes kafka-go's group logs on at Debug: the bridge reports
// what matters itself.
func (b *Bridge) kafkaLogger() kafka.Logger {
	return kafka.LoggerFunc(func(f string, a ...any) {
		if b.cfg.logger.Enabled(context.Background(), slog.LevelDebug) {
			b.cfg.logger.Debug("kafka-go: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
		}
	})
}

func (b *Bridge) newRun() *run {
	r := &run{b: b, cfg: &b.cfg}
	r.srcT = b.transport(0, b.topics)
	r.dstT = b.transport(1, r.targetTopics())
	r.src = &kafka.Client{Addr: kafka.TCP(b.from...), Transport: r.srcT}
	r.dst = &kafka.Client{Addr: kafka.TCP(b.to...), Transport: r.dstT}
	return r
}

// transport connects to the source (side 0) or the target (side 1).
func (b *Bridge) transport(side int, topics []string) *kafka.Transport {
	return &kafka.Transport{Dial: b.dial(), DialTimeout: b.cfg.requestTimeout, ClientID: clientID,
		MetadataTopics: topics, TLS: b.cfg.tls[side], SASL: b.cfg.sasl[side]}
}

func (r *run) targetTopics() []string {
	ts := append([]string(nil), r.b.topics...)
	if r.cfg.deadLetter != "" {
		ts = append(ts, r.cfg.deadLetter)
	}
	return ts
}

func (b *Bridge) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if b.cfg.dial != nil {
		return b.cfg.dial
	}
	d := &net.Dialer{Timeout: b.cfg.requestTimeout, KeepAlive: 30 * time.Second}
	return d.DialContext
}

func (r *run) close() {
	r.srcT.CloseIdleConnections()
	r.dstT.CloseIdleConnections()
}

// prepare learns the clusters' names and the topics' partition counts,
// creating the target topics (and the dead-letter topic) where they are
// missing. Unreachable clusters are waited for.
func (r *run) prepare(ctx context.Context) error {
	from, to := r.cfg.fromName, r.cfg.toName
	var err error
	if from == "" {
		if from, err = r.clusterName(ctx, r.src, "source"); err != nil {
			return err
		}
		if to, err = r.clusterName(ctx, r.dst, "target"); err != nil {
			return err
		}
		if from == to {
			return invalid("clusters", "source and target report the same cluster id %q; a bridge joins two clusters", from)
		}
	}
	r.from, r.to = from, to
	r.b.mu.Lock()
	r.b.mu.fromName, r.b.mu.toName = from, to
	r.b.mu.Unlock()
	counts, err := r.checkCounts(ctx, true)
	if err != nil {
		return err
	}
	r.setCounts(counts)
	if r.cfg.deadLetter != "" {
		err := r.retry(ctx, "dead-letter topic", func(ctx context.Context) error {
			n, err := r.ensureTopic(ctx, r.cfg.deadLetter, 1)
			r.dlqParts = n
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// clusterName asks a cluster for its id, waiting for it to answer.
func (r *run) clusterName(ctx context.Context, c *kafka.Client, what string) (string, error) {
	var name string
	err := r.retry(ctx, what+" metadata", func(ctx context.Context) error {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: r.b.topics})
		if err != nil {
			return err
		}
		if err := checkClusterName(md.ClusterID); err != nil {
			return permanentErr{invalid(what+" cluster id", "%v; name the clusters with the WithNames option", err)}
		}
		name = md.ClusterID
		return nil
	})
	return name, err
}

// checkCounts reads the topics' partition counts in both clusters, creating
// missing target topics with the source's count when create is set.
func (r *run) checkCounts(ctx context.Context, create bool) (map[string][2]int, error) {
	counts := map[string][2]int{}
	err := r.retry(ctx, "topic metadata", func(ctx context.Context) error {
		src, err := r.partitionCounts(ctx, r.src, r.b.topics)
		if err != nil {
			return err
		}
		dst, err := r.partitionCounts(ctx, r.dst, r.b.topics)
		if err != nil {
			return err
		}
		for _, t := range r.b.topics {
			n := src[t]
			if n == 0 {
				return permanentErr{fmt.Errorf("bridge: source topic %q: %w", t, ErrMissingTopic)}
			}
			m := dst[t]
			if m == 0 && create {
				if m, err = r.ensureTopic(ctx, t, n); err != nil {
					return err
				}
			}
			if m == 0 {
				return fmt.Errorf("target topic %q: %w", t, kafka.UnknownTopicOrPartition)
			}
			if m != n && r.cfg.mapping == SamePartition {
				return permanentErr{&PartitionMismatchError{Topic: t, From: n, To: m}}
			}
			counts[t] = [2]int{n, m}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

func (r *run) partitionCounts(ctx context.Context, c *kafka.Client, topics []string) (map[string]int, error) {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	md, err := c.Metadata(rctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("metadata of %q: %w", t.Name, t.Error)
		}
		counts[t.Name] = len(t.Partitions)
	}
	return counts, nil
}

// ensureTopic creates topic in the target with n partitions if it is
// missing, and returns its partition count.
func (r *run) ensureTopic(ctx context.Context, topic string, n int) (int, error) {
	counts, err := r.partitionCounts(ctx, r.dst, []string{topic})
	if err != nil {
		return 0, err
	}
	if m := counts[topic]; m > 0 {
		return m, nil
	}
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	resp, err := r.dst.CreateTopics(rctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: n, ReplicationFactor: -1},
	}})
	if err != nil {
		return 0, fmt.Errorf("create topic %q: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %q: %w", topic, err)
	}
	r.cfg.logger.Info("bridge created target topic", "topic", topic, "partitions", n)
	counts, err = r.partitionCounts(ctx, r.dst, []string{topic})
	if err != nil {
		return 0, err
	}
	if counts[topic] == 0 {
		return 0, fmt.Errorf("topic %q: created but not yet visible: %w", topic, kafka.UnknownTopicOrPartition)
	}
	return counts[topic], nil
}

// permanentErr marks an error retry must not retry.
type permanentErr struct{ error }

func (e permanentErr) Unwrap() error { return e.error }

// retry calls f until it succeeds, returns a permanentErr, or ctx ends,
// backing off between attempts; failures are reported through Lag.
func (r *run) retry(ctx context.Context, what string, f func(context.Context) error) error {
	bo := r.backoff()
	for {
		err := f(ctx)
		if err == nil {
			r.b.setErr(nil)
			return nil
		}
		var p permanentErr
		if errors.As(err, &p) {
			return p.error
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.b.setErr(fmt.Errorf("%s: %w", what, err))
		r.cfg.logger.Debug("bridge retrying", "what", what, "err", err)
		if bo.Wait(ctx) != nil {
			return ctx.Err()
		}
	}
}

// backoff returns the spacing of a failing request's retries.
func (r *run) backoff() *wait.Backoff {
	return &wait.Backoff{Min: r.cfg.minBackoff, Max: r.cfg.maxBackoff, Clock: r.cfg.clock}
}

func (b *Bridge) setRunning(v bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.running = v
}

// setErr records the bridge's error outside any partition, for Lag, and
// logs where a run of failures begins (Warn) and ends (Info): once each, as
// a retry every backoff would flood the log; retries are logged at Debug.
func (b *Bridge) setErr(err error) {
	now := b.cfg.clock.Now()
	b.mu.Lock()
	since := b.mu.failingSince
	switch {
	case err == nil:
		b.mu.failingSince = time.Time{}
	case since.IsZero():
		b.mu.failingSince = now
	}
	b.mu.lastErr = err
	b.mu.Unlock()
	switch {
	case err != nil && since.IsZero():
		b.cfg.logger.Warn("bridge failing; it retries, and Lag reports the error until a retry succeeds",
			"group", b.group, "err", err)
	case err == nil && !since.IsZero():
		b.cfg.logger.Info("bridge recovered", "group", b.group, "failed_for", now.Sub(since))
	}
}

// hold records the partitions a generation bridges, for Lag.
func (b *Bridge) hold(ps []*partition) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range ps {
		b.mu.held[topicPartition{p.topic, p.p}] = p
	}
}

func (b *Bridge) release(ps []*partition) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range ps {
		k := topicPartition{p.topic, p.p}
		if b.mu.held[k] == p {
			delete(b.mu.held, k)
		}
	}
}

func (b *Bridge) heldPartitions() []*partition {
	b.mu.Lock()
	defer b.mu.Unlock()
	ps := make([]*partition, 0, len(b.mu.held))
	for _, p := range b.mu.held {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].topic != ps[j].topic {
			return ps[i].topic < ps[j].topic
		}
		return ps[i].p < ps[j].p
	})
	return ps
}
