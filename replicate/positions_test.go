package replicate_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/memstore"
)

// TestAsync_PositionsReset restarts region a's in-memory store, whose
// positions start again below the watermark b keeps for a: the shipper
// must stop loudly (an error in Lag, an alert, an RPO that counts what b
// may lack) rather than ship nothing and report an RPO of zero; and
// AdvancePositions, then a resync, must bring the link back.
func TestAsync_PositionsReset(t *testing.T) {
	ctx := t.Context()
	wall := xregion.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	newA := func() *node {
		st, err := memstore.New("a", memstore.WithWallClock(wall))
		require.NoError(t, err)
		clock, err := xregion.NewClock(xregion.SystemClock{})
		require.NoError(t, err)
		define(t, st, clock, "orders")
		return &node{name: "a", store: st, remote: st, clock: clock}
	}
	a, b := newA(), memNodes(t, "b")[0]
	for i := range 5 {
		write(t, a, key(i), "before")
	}
	n, err := replicate.Ship(ctx, a.store, b.store)
	require.NoError(t, err)
	require.Equal(t, 5, n)

	a = newA() // the process restarts: a's changelog starts again
	var (
		mu     sync.Mutex
		alerts []replicate.Alert
	)
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithPollInterval(time.Millisecond),
		replicate.WithMaxBackoff(5*time.Millisecond), replicate.WithAlerts(func(al replicate.Alert) {
			mu.Lock()
			defer mu.Unlock()
			alerts = append(alerts, al)
		}))
	require.NoError(t, err)
	defer rep.Close()
	require.NoError(t, rep.Write(ctx, order(key(100), "after restart")))
	wall.Advance(time.Minute)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(alerts) > 0
	}, 10*time.Second, time.Millisecond)
	mu.Lock()
	require.Equal(t, replicate.AlertPositionsReset, alerts[0].Kind)
	require.Equal(t, xregion.Region("b"), alerts[0].Peer)
	require.ErrorIs(t, alerts[0].Err, xregion.ErrPositionsReset)
	mu.Unlock()

	lags, err := rep.Lag(ctx)
	require.NoError(t, err, "one link's reset must not hide the others' lag")
	require.Equal(t, xregion.LinkFailing, lags[0].State)
	var pe *xregion.PositionsError
	require.True(t, errors.As(lags[0].Err, &pe), "Lag's error %v", lags[0].Err)
	require.Equal(t, xregion.Region("a"), pe.Region)
	require.Equal(t, time.Minute, lags[0].RPO, "the RPO counts every change b may lack, not zero")
	require.EqualValues(t, 1, lags[0].Pending)
	requireLacks(t, b.store, key(100))

	// The way forward: move a's positions past b's watermark, and resync
	// what was written meanwhile.
	first, err := replicate.AdvancePositions(ctx, a.store, b.remote)
	require.NoError(t, err)
	wm, err := b.store.Watermark(ctx, "a")
	require.NoError(t, err)
	require.True(t, wm.Less(first))
	require.NoError(t, rep.Write(ctx, order(key(101), "after advance")))
	eventuallyHas(t, b.store, key(101), "after advance")
	require.Eventually(t, func() bool {
		lags, err := rep.Lag(ctx)
		return err == nil && lags[0].State == xregion.LinkShipping && lags[0].Err == nil && lags[0].RPO == 0
	}, 10*time.Second, time.Millisecond)
	requireLacks(t, b.store, key(100)) // recorded before the advance, behind the watermark

	la, err := lww.New(a.clock)
	require.NoError(t, err)
	lb, err := lww.New(b.clock)
	require.NoError(t, err)
	_, err = resync.Run(ctx, a.store, b.store, []resync.Table{{Name: "orders", A: la, B: lb}}, resync.WithDigestsOnly())
	require.NoError(t, err)
	eventuallyHas(t, b.store, key(100), "after restart")
}

// TestShip_PositionsReset: Ship refuses too, and ships again once the
// positions are advanced.
func TestShip_PositionsReset(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	for i := range 3 {
		write(t, a, key(i), "before")
	}
	_, err := replicate.Ship(t.Context(), a.store, b.store)
	require.NoError(t, err)

	a = memNodes(t, "a")[0] // restarted
	write(t, a, key(10), "after restart")
	n, err := replicate.Ship(t.Context(), a.store, b.store)
	require.ErrorIs(t, err, xregion.ErrPositionsReset)
	require.Zero(t, n)

	_, err = replicate.AdvancePositions(t.Context(), a.store, b.store)
	require.NoError(t, err)
	write(t, a, key(11), "after advance")
	n, err = replicate.Ship(t.Context(), a.store, b.store)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	eventuallyHas(t, b.store, key(11), "after advance")
}

func TestAdvancePositions_NotAnAdvancer(t *testing.T) {
	b := memNodes(t, "b")[0]
	_, err := replicate.AdvancePositions(t.Context(), struct{ xregion.Store }{b.store})
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

// write applies one write made in n to n's store.
func write(t *testing.T, n *node, k, v string) {
	t.Helper()
	ver, err := n.clock.Stamp(n.name, xregion.Version{})
	require.NoError(t, err)
	w := order(k, v)
	w.Record.Version = ver
	_, err = n.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{w}})
	require.NoError(t, err)
}

func requireLacks(t *testing.T, st xregion.Store, k string) {
	t.Helper()
	_, err := st.Get(t.Context(), "orders", k)
	require.ErrorIs(t, err, xregion.ErrNotFound, "%s holds %s", st.Region(), k)
}
