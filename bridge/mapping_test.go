package bridge_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/bridge"
)

func TestBridge_Run_PartitionMismatch(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 4)
	createTopic(t, b.KafkaBrokers(), "orders", 2)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t)...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = br.Run(ctx)
	require.ErrorIs(t, err, bridge.ErrPartitionMismatch, "refuses to start")
	var mismatch *bridge.PartitionMismatchError
	require.True(t, errors.As(err, &mismatch))
	require.Equal(t, bridge.PartitionMismatchError{Topic: "orders", From: 4, To: 2}, *mismatch)
	require.Contains(t, err.Error(), "WithMapping(KeyHash)", "says what would work")
}

func TestBridge_Run_MissingTopic(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"nowhere"}, fast(t)...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.ErrorIs(t, br.Run(ctx), bridge.ErrMissingTopic)
}

// A missing target topic is created with the source's partition count.
func TestBridge_Run_CreatesTargetTopic(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 3)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t)...)
	require.NoError(t, err)
	stop := running(t, br)
	require.Eventually(t, func() bool { return len(br.Lag().Partitions) == 3 }, 30*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, stop(), context.Canceled)
	c := &kafka.Client{Addr: kafka.TCP(b.KafkaBrokers()...), Transport: &kafka.Transport{}}
	md, err := c.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{"orders"}})
	require.NoError(t, err)
	require.Len(t, md.Topics[0].Partitions, 3)
}

// Under KeyHash, 4 source partitions go to 3 target partitions: each key's
// messages stay in order, in the partition a Java producer would pick, and
// each message arrives once.
func TestBridge_KeyHash(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 4)
	createTopic(t, b.KafkaBrokers(), "orders", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newProducer(t, a.KafkaBrokers(), "orders", "m")
	require.NoError(t, p.produce(ctx, []int32{0, 1, 2, 3}, 200))

	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithMapping(bridge.KeyHash), bridge.WithMaxBatchBytes(4<<10))...)
	require.NoError(t, err)
	stop := running(t, br)
	require.NoError(t, p.produce(ctx, []int32{0, 1, 2, 3}, 200))
	waitCaughtUp(t, br, 4, b.KafkaBrokers(), "orders", 1600)
	_, err = br.Translate(ctx, "orders", 0, 10)
	require.ErrorIs(t, err, bridge.ErrNoTranslation)
	require.ErrorIs(t, stop(), context.Canceled)

	src, dst := readTopic(t, a.KafkaBrokers(), "orders"), readTopic(t, b.KafkaBrokers(), "orders")
	// Per source partition and key, the sequence of values in the target
	// equals the source's.
	type stream struct {
		part int32
		key  string
	}
	want, got := map[stream][]string{}, map[stream][]string{}
	for part, rs := range src {
		for _, r := range rs {
			k := stream{part, string(r.Key)}
			want[k] = append(want[k], string(r.Value))
		}
	}
	var n int
	for tp, rs := range dst {
		for _, r := range rs {
			s, _ := header(r, bridge.HeaderSource)
			fields := strings.Split(s, "/")
			require.Len(t, fields, 4, s)
			part, err := strconv.Atoi(fields[2])
			require.NoError(t, err)
			require.Equal(t, int32(bridge.Murmur2(r.Key)&0x7fffffff%3), tp, "key %s in the partition the Java producer picks", r.Key)
			k := stream{int32(part), string(r.Key)}
			got[k] = append(got[k], string(r.Value))
			n++
		}
	}
	require.Equal(t, 1600, n, "each message once")
	require.Equal(t, want, got, "each key's messages in order")
}
