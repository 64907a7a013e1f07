package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xregion/xregion/bridge"
	"github.com/xregion/xregion/regiontest"
)

// regions returns regions a and b with Kafka clusters that allow the short
// group sessions the tests use.
func regions(t *testing.T) (a, b *regiontest.Region) {
	t.Helper()
	c := regiontest.New(t, regiontest.WithKafkaOptions(kfake.GroupMinSessionTimeout(50*time.Millisecond)))
	return c.Region("a"), c.Region("b")
}

// logTo logs to t when XREGION_TEST_LOG is set (to a level: debug, info).
func logTo(t *testing.T) *slog.Logger {
	var level slog.Level
	switch os.Getenv("XREGION_TEST_LOG") {
	case "":
		return slog.New(slog.DiscardHandler)
	case "debug":
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// fast are options sized for tests: short sessions, timeouts and backoffs.
func fast(t *testing.T, opts ...bridge.Option) []bridge.Option {
	return append([]bridge.Option{
		bridge.WithLogger(logTo(t)),
		bridge.WithSessionTimeout(time.Second),
		bridge.WithRequestTimeout(2 * time.Second),
		bridge.WithBackoff(20*time.Millisecond, 300*time.Millisecond),
		bridge.WithLagInterval(100 * time.Millisecond),
		bridge.WithFetchMaxWait(50 * time.Millisecond),
		bridge.WithPauseAfter(time.Second),
		bridge.WithSettle(20 * time.Millisecond),
	}, opts...)
}

func createTopic(t *testing.T, brokers []string, topic string, partitions int, configs ...kafka.ConfigEntry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}}})
	require.NoError(t, err)
	require.NoError(t, resp.Errors[topic])
}

// producer writes numbered messages to chosen partitions, so order can be
// checked at the other end. It is safe for concurrent use.
type producer struct {
	cl    *kgo.Client
	topic string
	tag   string
	mu    sync.Mutex
	next  map[int32]int
}

func newProducer(t *testing.T, brokers []string, topic, tag string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &producer{cl: cl, topic: topic, tag: tag, next: map[int32]int{}}
}

// produce writes n messages to each of partitions, in one synchronous call.
func (p *producer) produce(ctx context.Context, partitions []int32, n int, headers ...kgo.RecordHeader) error {
	p.mu.Lock()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		for _, part := range partitions {
			seq := p.next[part]
			p.next[part]++
			recs = append(recs, &kgo.Record{Partition: part, Key: []byte("k" + strconv.Itoa(seq%7)),
				Value: []byte(fmt.Sprintf("%s-%d-%d", p.tag, part, seq)), Headers: headers})
		}
	}
	p.mu.Unlock()
	return p.cl.ProduceSync(ctx, recs...).FirstErr()
}

// readTopic reads every message of topic up to each partition's end, with an
// independent client: franz-go, not kafka-go.
func readTopic(t *testing.T, brokers []string, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		want[o.Partition] = o.Offset
		parts[o.Partition] = kgo.NewOffset().AtStart()
	})
	out := map[int32][]*kgo.Record{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	require.NoError(t, err)
	defer cl.Close()
	done := func() bool {
		for p, end := range want {
			if n := len(out[p]); n > 0 && out[p][n-1].Offset+1 < end || n == 0 && end > 0 {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading %s", topic)
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
			}
		})
	}
	return out
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// requireMirrored checks that target holds, for every source partition,
// exactly the source's messages read from cluster from, each once, in
// source order, in the same-numbered partition, with their provenance.
func requireMirrored(t *testing.T, from string, src, dst map[int32][]*kgo.Record) {
	t.Helper()
	for p, recs := range src {
		var got []*kgo.Record
		for _, r := range dst[p] {
			if s, _ := header(r, bridge.HeaderSource); strings.HasPrefix(s, from+"/") {
				got = append(got, r)
			}
		}
		var want []*kgo.Record
		for _, r := range recs {
			if hops, ok := header(r, bridge.HeaderHops); ok && strings.Contains(","+hops+",", ","+dstName(from)+",") {
				continue // an echo: it came from the target
			}
			want = append(want, r)
		}
		require.Equal(t, len(want), len(got), "partition %d: every source message exactly once", p)
		for i := range want {
			require.Equal(t, string(want[i].Value), string(got[i].Value), "partition %d, message %d: in source order", p, i)
			require.Equal(t, want[i].Key, got[i].Key)
			s, _ := header(got[i], bridge.HeaderSource)
			require.Equal(t, fmt.Sprintf("%s/%s/%d/%d", from, want[i].Topic, p, want[i].Offset), s, "provenance")
		}
	}
}

// sumMetric adds up every series of the metric family name.
func sumMetric(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// countSeries counts the series of the metric family name.
func countSeries(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return float64(len(mf.GetMetric()))
		}
	}
	return 0
}

// dstName names the other cluster of the pair the tests use.
func dstName(from string) string {
	if from == "xregion-a" {
		return "xregion-b"
	}
	return "xregion-a"
}

// running runs b until the test ends or stop is called, which returns Run's
// error.
func running(t *testing.T, b *bridge.Bridge) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(30 * time.Second):
				err = errors.New("Run did not return within 30s of its context's end")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitCaughtUp waits until the bridge holds every partition of its topics
// with nothing pending and the target's partitions hold at least want
// messages in total.
func waitCaughtUp(t *testing.T, b *bridge.Bridge, partitions int, target []string, topic string, want int64) {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(target...))
	require.NoError(t, err)
	defer adm.Close()
	require.Eventually(t, func() bool {
		l := b.Lag()
		if len(l.Partitions) != partitions || l.Pending != 0 {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n >= want
	}, 60*time.Second, 20*time.Millisecond, "the bridge catches up")
}
