package bridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xregion/xregion/bridge"
)

// Bridges A→B and B→A on the same topic, with producers writing in both
// regions: every message ends up exactly once in each region, and none
// comes back to where it started.
func TestBridge_ActiveActive(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	const parts = 4
	all := []int32{0, 1, 2, 3}
	createTopic(t, a.KafkaBrokers(), "orders", parts)
	createTopic(t, b.KafkaBrokers(), "orders", parts)

	ctx, stopProducing := context.WithCancel(context.Background())
	defer stopProducing()
	pa := produceAll(t, ctx, newProducer(t, a.KafkaBrokers(), "orders", "a"), all, 15*time.Millisecond)
	pb := produceAll(t, ctx, newProducer(t, b.KafkaBrokers(), "orders", "b"), all, 15*time.Millisecond)

	ab, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "to-b", []string{"orders"}, fast(t)...)
	require.NoError(t, err)
	ba, err := bridge.New(b.KafkaBrokers(), a.KafkaBrokers(), "to-a", []string{"orders"}, fast(t)...)
	require.NoError(t, err)
	stopAB, stopBA := running(t, ab), running(t, ba)

	time.Sleep(time.Second) // both regions produce, and both bridges carry it, over real Kafka connections
	stopProducing()
	pa.Wait()
	pb.Wait()

	local := func(recs map[int32][]*kgo.Record) int64 {
		var n int64
		for _, rs := range recs {
			for _, r := range rs {
				if _, ok := header(r, bridge.HeaderHops); !ok {
					n++
				}
			}
		}
		return n
	}
	inA, inB := local(readTopic(t, a.KafkaBrokers(), "orders")), local(readTopic(t, b.KafkaBrokers(), "orders"))
	require.Positive(t, inA)
	require.Positive(t, inB)
	waitCaughtUp(t, ab, parts, b.KafkaBrokers(), "orders", inA+inB)
	waitCaughtUp(t, ba, parts, a.KafkaBrokers(), "orders", inA+inB)
	require.ErrorIs(t, stopAB(), context.Canceled)
	require.ErrorIs(t, stopBA(), context.Canceled)

	srcA, srcB := readTopic(t, a.KafkaBrokers(), "orders"), readTopic(t, b.KafkaBrokers(), "orders")
	requireMirrored(t, "xregion-a", srcA, srcB)
	requireMirrored(t, "xregion-b", srcB, srcA)
	for name, recs := range map[string]map[int32][]*kgo.Record{"a": srcA, "b": srcB} {
		require.Equal(t, inA+inB, sourceTotal(recs), "region %s holds each region's messages once, and nothing else", name)
		for _, rs := range recs {
			for _, r := range rs {
				hops, ok := header(r, bridge.HeaderHops)
				if !ok {
					continue
				}
				require.Len(t, strings.Split(hops, ","), 2, "one hop, never back: %s", hops)
				require.True(t, strings.HasSuffix(hops, ",xregion-"+name), "the last hop is where it is: %s", hops)
			}
		}
	}
}
