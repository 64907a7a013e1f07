package bridge_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
	"github.com/xregion/xregion/regiontest"
)

// produceAll writes batches to every partition until ctx ends.
func produceAll(t *testing.T, ctx context.Context, p *producer, partitions []int32, every time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := p.produce(ctx, partitions, 10); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(every) // producers pace real traffic
		}
	})
	return &wg
}

func sourceTotal(src map[int32][]*kgo.Record) int64 {
	var n int64
	for _, recs := range src {
		n += int64(len(recs))
	}
	return n
}

func TestBridge_TargetOutage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(b *regiontest.KafkaLink)
	}{
		// The target goes dark: requests hang until their deadlines, and
		// what was held is delivered when it returns, so publishes that
		// timed out may land after all.
		{"blackhole", func(l *regiontest.KafkaLink) { l.Blackhole() }},
		// The target's connections keep dropping.
		{"reset", func(l *regiontest.KafkaLink) {
			for i := 0; i < 20; i++ {
				l.Reset()
				time.Sleep(100 * time.Millisecond) // the clients reconnect over the real network in between
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := regions(t)
			const parts = 4
			createTopic(t, a.KafkaBrokers(), "orders", parts)
			createTopic(t, b.KafkaBrokers(), "orders", parts)
			ctx, stopProducing := context.WithCancel(context.Background())
			defer stopProducing()
			wg := produceAll(t, ctx, newProducer(t, a.KafkaBrokers(), "orders", "m"), []int32{0, 1, 2, 3}, 10*time.Millisecond)

			m := bridge.NewMetrics()
			reg := prometheus.NewRegistry()
			reg.MustRegister(m)
			br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
				fast(t, bridge.WithMetrics(m), bridge.WithRequestTimeout(time.Second), bridge.WithPauseAfter(500*time.Millisecond),
					bridge.WithMaxBatchBytes(8<<10))...)
			require.NoError(t, err)
			stop := running(t, br)
			require.Eventually(t, func() bool { return sumMetric(t, reg, "xregion_bridge_record_count") > 400 },
				30*time.Second, 10*time.Millisecond, "bridging before the outage")

			tc.fault(b.KafkaLink())
			if tc.name == "blackhole" {
				require.Eventually(t, func() bool {
					l := br.Lag()
					return l.State == xregion.LinkFailing && l.RPO > 500*time.Millisecond &&
						sumMetric(t, reg, "xregion_bridge_partition_paused") == parts
				}, 30*time.Second, 20*time.Millisecond, "the outage shows: every partition paused, the RPO growing")
				l := br.Lag()
				require.Greater(t, time.Since(l.LastContact), 500*time.Millisecond, "the target has not answered")
				for _, p := range l.Partitions {
					require.Equal(t, bridge.Paused, p.State)
					require.Error(t, p.Err)
				}
				b.KafkaLink().Heal()
			}

			stopProducing()
			wg.Wait()
			src := readTopic(t, a.KafkaBrokers(), "orders")
			waitCaughtUp(t, br, parts, b.KafkaBrokers(), "orders", sourceTotal(src))
			require.Eventually(t, func() bool {
				return br.Lag().State == xregion.LinkShipping && sumMetric(t, reg, "xregion_bridge_partition_paused") == 0
			}, 30*time.Second, 20*time.Millisecond, "the partitions resume by themselves")
			require.ErrorIs(t, stop(), context.Canceled)
			requireMirrored(t, "xregion-a", src, readTopic(t, b.KafkaBrokers(), "orders"))
		})
	}
}

// A publish that timed out may have been written all the same: the bridge
// sends it again with the same producer sequence, and the target recognises
// the copy instead of appending it twice.
func TestBridge_PublishTimedOutButWritten(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 2)
	createTopic(t, b.KafkaBrokers(), "orders", 2)
	// The target answers REQUEST_TIMED_OUT to the first produce requests of
	// partition 1, after writing them.
	h := b.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "orders", Partitions: []int32{1},
		Err: kerr.RequestTimedOut, Count: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newProducer(t, a.KafkaBrokers(), "orders", "m")
	require.NoError(t, p.produce(ctx, []int32{0, 1}, 300))

	m := bridge.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithMetrics(m), bridge.WithMaxBatchBytes(4<<10))...)
	require.NoError(t, err)
	stop := running(t, br)
	require.NoError(t, p.produce(ctx, []int32{0, 1}, 300))
	waitCaughtUp(t, br, 2, b.KafkaBrokers(), "orders", 1200)
	require.Equal(t, 3, h.Hits(), "the fault answered")
	require.ErrorIs(t, stop(), context.Canceled)
	requireMirrored(t, "xregion-a", readTopic(t, a.KafkaBrokers(), "orders"), readTopic(t, b.KafkaBrokers(), "orders"))
	require.GreaterOrEqual(t, sumMetric(t, reg, "xregion_bridge_errors_total"), 3.0, "each timed-out publish counted as an error and sent again")
}
