package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
	"github.com/xregion/xregion/replicate"
)

// produceSized writes messages to partition p of topic; values of the sizes
// given, tagged with their index.
func produceSized(t *testing.T, brokers []string, topic string, p int32, sizes ...int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20))
	require.NoError(t, err)
	defer cl.Close()
	var recs []*kgo.Record
	for i, n := range sizes {
		v := fmt.Sprintf("%d-%d|", p, i)
		v += strings.Repeat("x", max(n-len(v), 0))
		recs = append(recs, &kgo.Record{Partition: p, Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

// The target refuses messages over 2,000 bytes: they go to the dead-letter
// topic with the reason, and everything else arrives in order around them.
func TestBridge_DeadLetter(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 2)
	createTopic(t, b.KafkaBrokers(), "orders", 2, kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: "2000"})
	sizes := []int{100, 100, 5000, 100, 3000, 3000, 100}
	for _, p := range []int32{0, 1} {
		produceSized(t, a.KafkaBrokers(), "orders", p, sizes...)
	}

	m := bridge.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithMetrics(m), bridge.WithDeadLetter("orders.dlq"))...)
	require.NoError(t, err)
	stop := running(t, br)
	waitCaughtUp(t, br, 2, b.KafkaBrokers(), "orders", 8)
	require.ErrorIs(t, stop(), context.Canceled)

	dst := readTopic(t, b.KafkaBrokers(), "orders")
	dlq := readTopic(t, b.KafkaBrokers(), "orders.dlq")
	var dead []*kgo.Record
	for _, rs := range dlq {
		dead = append(dead, rs...)
	}
	require.Len(t, dead, 6, "the three large messages of each partition")
	for _, r := range dead {
		reason, ok := header(r, bridge.HeaderReason)
		require.True(t, ok)
		require.Contains(t, reason, "Message Size Too Large")
		src, ok := header(r, bridge.HeaderSource)
		require.True(t, ok, "with their provenance: %s", src)
	}
	for _, p := range []int32{0, 1} {
		var got []string
		for _, r := range dst[p] {
			got = append(got, strings.SplitN(string(r.Value), "|", 2)[0])
		}
		require.Equal(t, []string{fmt.Sprint(p, "-0"), fmt.Sprint(p, "-1"), fmt.Sprint(p, "-3"), fmt.Sprint(p, "-6")}, got,
			"partition %d: the others, in order", p)
	}
	require.Equal(t, 6.0, sumMetric(t, reg, "xregion_bridge_dead_letters_total"))
}

// Without a dead-letter topic, a refused message stops its partition there:
// nothing is skipped, the other partitions carry on, and it shows.
func TestBridge_RefusedStopsPartition(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 2)
	createTopic(t, b.KafkaBrokers(), "orders", 2, kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: "2000"})
	produceSized(t, a.KafkaBrokers(), "orders", 0, 100, 100, 5000, 100)
	produceSized(t, a.KafkaBrokers(), "orders", 1, 100, 100, 100, 100)

	m := bridge.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t, bridge.WithMetrics(m))...)
	require.NoError(t, err)
	stop := running(t, br)
	var stopped bridge.PartitionLag
	require.Eventually(t, func() bool {
		for _, p := range br.Lag().Partitions {
			if p.State == bridge.Stopped {
				stopped = p
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	require.Equal(t, 0, stopped.Partition)
	require.Equal(t, int64(2), stopped.Next, "stopped at the refused message")
	require.Equal(t, int64(2), stopped.Pending)
	require.ErrorIs(t, stopped.Err, bridge.ErrRefused)
	require.ErrorIs(t, stopped.Err, kafka.MessageSizeTooLarge)
	var refused *bridge.RefusedError
	require.True(t, errors.As(stopped.Err, &refused))
	require.Equal(t, int64(2), refused.Offset)
	require.False(t, bridge.IsRetryable(stopped.Err))
	require.Equal(t, xregion.LinkFailing, br.Lag().State)
	require.Equal(t, 1.0, sumMetric(t, reg, "xregion_bridge_partition_paused"))

	require.Eventually(t, func() bool {
		dst := readTopic(t, b.KafkaBrokers(), "orders")
		return len(dst[0]) == 2 && len(dst[1]) == 4
	}, 30*time.Second, 20*time.Millisecond, "partition 0 up to the refused message, partition 1 entirely")
	time.Sleep(300 * time.Millisecond) // time for the real cluster to receive anything a broken bridge would still send
	dst := readTopic(t, b.KafkaBrokers(), "orders")
	require.Len(t, dst[0], 2, "nothing after the refused message")
	require.ErrorIs(t, stop(), context.Canceled)
}

// A partition whose target keeps failing is paused alone: it is reported,
// the others carry on, and it resumes when the failure passes.
func TestBridge_PausedPartition(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 3)
	createTopic(t, b.KafkaBrokers(), "orders", 3)
	fault := b.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "orders", Partitions: []int32{1},
		Err: kerr.NotLeaderForPartition, Count: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newProducer(t, a.KafkaBrokers(), "orders", "m")
	require.NoError(t, p.produce(ctx, []int32{0, 1, 2}, 100))

	m := bridge.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithMetrics(m), bridge.WithPauseAfter(300*time.Millisecond))...)
	require.NoError(t, err)
	// The messaging RPO, exported as the databases' is.
	reg.MustRegister(replicate.NewLagCollector("tier1", xregion.LagFunc(br.ReplicationLag)))
	stop := running(t, br)
	require.Eventually(t, func() bool {
		l := br.Lag()
		if len(l.Partitions) != 3 {
			return false
		}
		return l.Partitions[0].Pending == 0 && l.Partitions[2].Pending == 0 && l.Partitions[0].Next == 100 &&
			l.Partitions[1].State == bridge.Paused
	}, 30*time.Second, 10*time.Millisecond, "partition 1 paused, the others bridged")
	l := br.Lag()
	require.ErrorIs(t, l.Partitions[1].Err, kafka.NotLeaderForPartition)
	require.Equal(t, int64(100), l.Partitions[1].Pending)
	require.False(t, l.Partitions[1].FailingSince.IsZero())
	require.Positive(t, l.RPO)
	require.Equal(t, 1.0, sumMetric(t, reg, "xregion_bridge_partition_paused"))
	require.Equal(t, 100.0, sumMetric(t, reg, "xregion_bridge_records_lag"))
	require.Positive(t, sumMetric(t, reg, "xregion_replication_rpo_seconds"))
	require.Equal(t, 100.0, sumMetric(t, reg, "xregion_replication_pending_changes"))
	require.Equal(t, 0.0, sumMetric(t, reg, "xregion_replication_peer_up"), "a failing partition")

	fault.Remove()
	waitCaughtUp(t, br, 3, b.KafkaBrokers(), "orders", 300)
	require.Eventually(t, func() bool { return sumMetric(t, reg, "xregion_bridge_partition_paused") == 0 },
		10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return sumMetric(t, reg, "xregion_replication_rpo_seconds") == 0 && sumMetric(t, reg, "xregion_replication_peer_up") == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, stop(), context.Canceled)
	requireMirrored(t, "xregion-a", readTopic(t, a.KafkaBrokers(), "orders"), readTopic(t, b.KafkaBrokers(), "orders"))
}
