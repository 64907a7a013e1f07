package replicate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// TestSnapshot_ShipsTheLatestOfEachKeyPerInterval: a snapshot replicator
// ships what changed at its start and then once per interval, each key's
// latest version only, and its lag shows what waits meanwhile.
func TestSnapshot_ShipsTheLatestOfEachKeyPerInterval(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	write := func(key, value string) {
		w := order(key, value)
		w.Record.Version = xregion.Version{Time: a.clock.Now(), Region: "a"}
		_, err := a.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{w}})
		require.NoError(t, err)
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		write("k", v)
	}
	write("j", "v1")

	const every = time.Hour
	clock := xregion.NewManualClock(time.Now())
	rep, err := replicate.NewSnapshot(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithEvery(every),
		replicate.WithTimers(clock))
	require.NoError(t, err)
	defer rep.Close()

	// The first snapshot ships at once, coalesced: b gets k's last version
	// and j, two changes for four.
	eventuallyHas(t, b.store, "k", "v3")
	eventuallyHas(t, b.store, "j", "v1")
	require.Len(t, allChanges(t, b.store, "a"), 2)

	// A write made now waits for the next snapshot, and the lag says so.
	write("k", "v4")
	require.Eventually(t, func() bool { return clock.Pending() > 0 }, 10*time.Second, time.Millisecond,
		"the shipper waits for the next interval")
	clock.Advance(every - time.Second)
	got, err := b.store.Get(t.Context(), "orders", "k")
	require.NoError(t, err)
	require.Equal(t, "v3", string(got.Value), "not shipped before the interval")
	lags, err := rep.Lag(t.Context())
	require.NoError(t, err)
	require.Positive(t, lags[0].RPO)
	require.EqualValues(t, 1, lags[0].Pending)

	clock.Advance(time.Second)
	eventuallyHas(t, b.store, "k", "v4")
}
