package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/bridge"
)

// The target holds local messages between the copies; every committed
// source offset maps to the position right after the copy of the message
// before it.
func TestBridge_Translate(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 1)
	createTopic(t, b.KafkaBrokers(), "orders", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pa := newProducer(t, a.KafkaBrokers(), "orders", "a")
	pb := newProducer(t, b.KafkaBrokers(), "orders", "b")
	require.NoError(t, pb.produce(ctx, []int32{0}, 3))

	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithMaxBatchBytes(1024))...)
	require.NoError(t, err)
	stop := running(t, br)
	var want int64 = 3
	for i := 0; i < 5; i++ {
		require.NoError(t, pa.produce(ctx, []int32{0}, 7))
		want += 7
		waitCaughtUp(t, br, 1, b.KafkaBrokers(), "orders", want)
		require.NoError(t, pb.produce(ctx, []int32{0}, 2))
		want += 2
	}
	src := readTopic(t, a.KafkaBrokers(), "orders")[0]
	dst := readTopic(t, b.KafkaBrokers(), "orders")[0]
	copyAt := map[string]int64{} // source value -> target offset of its copy
	for _, r := range dst {
		copyAt[string(r.Value)] = r.Offset
	}
	for c := int64(0); c <= int64(len(src)); c++ {
		exp := int64(0)
		if c > 0 {
			exp = copyAt[string(src[c-1].Value)] + 1
		}
		got, err := br.Translate(ctx, "orders", 0, c)
		require.NoError(t, err)
		require.Equal(t, exp, got, "committed offset %d", c)
	}
	require.ErrorIs(t, stop(), context.Canceled)

	// The source region is gone: a bridge that knows the clusters' names
	// still translates, from the target alone.
	a.KafkaLink().Blackhole()
	offline, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithNames("xregion-a", "xregion-b"))...)
	require.NoError(t, err)
	got, err := offline.Translate(ctx, "orders", 0, 10)
	require.NoError(t, err)
	require.Equal(t, copyAt[string(src[9].Value)]+1, got)
}

func TestBridge_FailoverGroup(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 2)
	createTopic(t, b.KafkaBrokers(), "orders", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, newProducer(t, b.KafkaBrokers(), "orders", "local").produce(ctx, []int32{0, 1}, 4))
	require.NoError(t, newProducer(t, a.KafkaBrokers(), "orders", "m").produce(ctx, []int32{0, 1}, 10))

	// A consumer in region a reads and commits six messages of each partition.
	c := &kafka.Client{Addr: kafka.TCP(a.KafkaBrokers()...), Transport: &kafka.Transport{}}
	resp, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: "billing", GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{"orders": {{Partition: 0, Offset: 6}, {Partition: 1, Offset: 6}}}})
	require.NoError(t, err)
	for _, p := range resp.Topics["orders"] {
		require.NoError(t, p.Error)
	}

	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t)...)
	require.NoError(t, err)
	stop := running(t, br)
	waitCaughtUp(t, br, 2, b.KafkaBrokers(), "orders", 28)
	require.ErrorIs(t, stop(), context.Canceled)

	offsets, err := br.FailoverGroup(ctx, "billing", "orders")
	require.NoError(t, err)
	require.Equal(t, map[int]int64{0: 10, 1: 10}, offsets, "after 4 local messages and 6 copies")

	// The consumer, moved to region b, resumes at the seventh message.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.KafkaBrokers(), GroupID: "billing", Topic: "orders",
		MaxWait: 50 * time.Millisecond})
	defer r.Close()
	seen := map[int][]string{}
	for len(seen[0])+len(seen[1]) < 8 {
		m, err := r.FetchMessage(ctx)
		require.NoError(t, err)
		seen[m.Partition] = append(seen[m.Partition], string(m.Value))
	}
	require.Equal(t, []string{"m-0-6", "m-0-7", "m-0-8", "m-0-9"}, seen[0])
	require.Equal(t, []string{"m-1-6", "m-1-7", "m-1-8", "m-1-9"}, seen[1])
}
