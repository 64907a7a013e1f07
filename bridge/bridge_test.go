package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
)

func TestBridge_Run(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	const parts, perPart = 4, 500
	createTopic(t, a.KafkaBrokers(), "orders", parts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newProducer(t, a.KafkaBrokers(), "orders", "m")
	require.NoError(t, p.produce(ctx, []int32{0, 1, 2, 3}, perPart/2, kgo.RecordHeader{Key: "trace", Value: []byte("t1")}))

	m := bridge.NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithMetrics(m))...)
	require.NoError(t, err)
	stop := running(t, br)

	// Half was there before the bridge started, half arrives while it runs.
	require.NoError(t, p.produce(ctx, []int32{0, 1, 2, 3}, perPart/2, kgo.RecordHeader{Key: "trace", Value: []byte("t2")}))
	waitCaughtUp(t, br, parts, b.KafkaBrokers(), "orders", parts*perPart)

	src, dst := readTopic(t, a.KafkaBrokers(), "orders"), readTopic(t, b.KafkaBrokers(), "orders")
	requireMirrored(t, "xregion-a", src, dst)
	r := dst[2][7]
	trace, ok := header(r, "trace")
	require.True(t, ok, "the source's headers survive")
	require.Equal(t, "t1", trace)
	id, _ := header(r, bridge.HeaderID)
	require.Equal(t, "xregion-a/orders/2/7", id, "an id derived from the provenance")
	origin, _ := header(r, bridge.HeaderOrigin)
	require.Equal(t, "xregion-a", origin)
	hops, _ := header(r, bridge.HeaderHops)
	require.Equal(t, "xregion-a,xregion-b", hops)
	require.Equal(t, src[2][7].Timestamp.UnixMilli(), r.Timestamp.UnixMilli(), "timestamps are kept")

	l := br.Lag()
	require.Equal(t, "xregion-a", l.From)
	require.Equal(t, "xregion-b", l.To)
	require.Equal(t, xregion.LinkShipping, l.State)
	require.Zero(t, l.RPO)
	require.Len(t, l.Partitions, parts)
	require.False(t, l.LastContact.IsZero())
	require.Equal(t, float64(parts*perPart), sumMetric(t, reg, "xregion_bridge_record_count"))
	require.Equal(t, float64(parts*perPart), sumMetric(t, reg, "xregion_bridge_replication_latency_ms"), "one observation per message")
	require.Equal(t, float64(parts*perPart), sumMetric(t, reg, "xregion_bridge_record_age_ms"))
	var bytes int
	for _, rs := range src {
		for _, r := range rs {
			bytes += len(r.Key) + len(r.Value)
		}
	}
	require.Equal(t, float64(bytes), sumMetric(t, reg, "xregion_bridge_bytes_total"), "key and value bytes")
	require.Eventually(t, func() bool {
		return sumMetric(t, reg, "xregion_bridge_assigned_partitions") == parts &&
			sumMetric(t, reg, "xregion_bridge_records_lag") == 0 && sumMetric(t, reg, "xregion_bridge_rpo_seconds") == 0
	}, 10*time.Second, 10*time.Millisecond, "idle partitions report their lag: none")
	for _, name := range []string{"byte_rate", "oldest_unbridged_age_seconds", "partition_paused", "records_lag"} {
		require.Equal(t, float64(parts), countSeries(t, reg, "xregion_bridge_"+name), "%s: a series per partition", name)
	}

	require.ErrorIs(t, stop(), context.Canceled)
	require.Equal(t, xregion.LinkStopped, br.Lag().State)
	require.ErrorIs(t, br.Run(ctx), bridge.ErrStarted)
}

// Two processes share the group: the partitions are split between them, and
// when one stops the other takes its partitions over where it left them.
func TestBridge_SharedGroup(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	const parts = 4
	createTopic(t, a.KafkaBrokers(), "orders", parts)
	createTopic(t, b.KafkaBrokers(), "orders", parts)
	watch := watchGroup(t, a.KafkaLink(), "bridge")
	ctx, stopProducing := context.WithCancel(context.Background())
	defer stopProducing()
	wg := produceAll(t, ctx, newProducer(t, a.KafkaBrokers(), "orders", "m"), []int32{0, 1, 2, 3}, 10*time.Millisecond)

	// Compressed batches, read back below by another client.
	b1, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t, bridge.WithCompression(kafka.Lz4))...)
	require.NoError(t, err)
	stop1 := running(t, b1)
	require.Eventually(t, func() bool { return len(b1.Lag().Partitions) == parts }, 30*time.Second, 10*time.Millisecond)
	b2, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t, bridge.WithCompression(kafka.Zstd))...)
	require.NoError(t, err)
	stop2 := running(t, b2)
	require.Eventually(t, func() bool {
		return len(b1.Lag().Partitions) == parts/2 && len(b2.Lag().Partitions) == parts/2
	}, 30*time.Second, 10*time.Millisecond, "the partitions are shared")
	time.Sleep(300 * time.Millisecond) // both processes bridge real traffic before one stops
	require.ErrorIs(t, stop1(), context.Canceled)
	require.Eventually(t, func() bool { return len(b2.Lag().Partitions) == parts }, 30*time.Second, 10*time.Millisecond,
		"the survivor takes them all")

	stopProducing()
	wg.Wait()
	src := readTopic(t, a.KafkaBrokers(), "orders")
	waitCaughtUp(t, b2, parts, b.KafkaBrokers(), "orders", sourceTotal(src))
	require.ErrorIs(t, stop2(), context.Canceled)
	requireMirrored(t, "xregion-a", src, readTopic(t, b.KafkaBrokers(), "orders"))
	watch.check(t)
}
