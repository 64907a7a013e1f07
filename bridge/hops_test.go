package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xregion/xregion/bridge"
)

// The ids and hops of messages that have travelled before: a message of
// the source's own keeps its id header as the id; one bridged from a third
// cluster keeps its id and origin and gains a hop; one that has been in the
// target already is not sent back.
func TestBridge_Hops(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.KafkaBrokers()...), kgo.DefaultProduceTopic("orders"))
	require.NoError(t, err)
	defer cl.Close()
	h := func(kv ...string) []kgo.RecordHeader {
		var hs []kgo.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return hs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx,
		&kgo.Record{Value: []byte("own id"), Headers: h("message-id", "order-77")},
		&kgo.Record{Value: []byte("from c"), Headers: h(bridge.HeaderID, "c/orders/0/5", bridge.HeaderOrigin, "c",
			bridge.HeaderHops, "c,xregion-a", bridge.HeaderSource, "c/orders/0/5")},
		&kgo.Record{Value: []byte("been in b"), Headers: h(bridge.HeaderID, "xregion-b/orders/0/1",
			bridge.HeaderOrigin, "xregion-b", bridge.HeaderHops, "xregion-b,xregion-a", bridge.HeaderSource, "xregion-b/orders/0/1")},
		&kgo.Record{Value: []byte("plain")},
	).FirstErr())

	m := bridge.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithIDHeader("message-id"), bridge.WithMetrics(m))...)
	require.NoError(t, err)
	stop := running(t, br)
	waitCaughtUp(t, br, 1, b.KafkaBrokers(), "orders", 3)
	require.ErrorIs(t, stop(), context.Canceled)

	got := readTopic(t, b.KafkaBrokers(), "orders")[0]
	require.Len(t, got, 3, "the message that had been in b is not sent back")
	want := []struct{ value, id, origin, hops, src string }{
		{"own id", "order-77", "xregion-a", "xregion-a,xregion-b", "xregion-a/orders/0/0"},
		{"from c", "c/orders/0/5", "c", "c,xregion-a,xregion-b", "xregion-a/orders/0/1"},
		{"plain", "xregion-a/orders/0/3", "xregion-a", "xregion-a,xregion-b", "xregion-a/orders/0/3"},
	}
	for i, w := range want {
		r := got[i]
		require.Equal(t, w.value, string(r.Value))
		for key, v := range map[string]string{bridge.HeaderID: w.id, bridge.HeaderOrigin: w.origin,
			bridge.HeaderHops: w.hops, bridge.HeaderSource: w.src} {
			hv, ok := header(r, key)
			require.True(t, ok, key)
			require.Equal(t, v, hv, "%s of %q", key, w.value)
		}
		n := 0
		for _, hd := range r.Headers {
			if hd.Key == bridge.HeaderSource {
				n++
			}
		}
		require.Equal(t, 1, n, "one %s: the earlier hop's is replaced", bridge.HeaderSource)
	}
	mid, _ := header(got[0], "message-id")
	require.Equal(t, "order-77", mid, "the source's own headers stay")
	require.Equal(t, 1.0, sumMetric(t, reg, "xregion_bridge_echo_suppressed_total"))
}
