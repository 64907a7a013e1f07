package replicate_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

func TestAsync_ActiveActiveDoesNotEcho(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	ab, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithPollInterval(time.Millisecond))
	require.NoError(t, err)
	defer ab.Close()
	ba, err := replicate.NewAsync(b.store, b.clock, []xregion.Store{a.remote}, replicate.WithPollInterval(time.Millisecond))
	require.NoError(t, err)
	defer ba.Close()

	for i := range 100 {
		require.NoError(t, ab.Write(t.Context(), order(key(i), "from a")))
		require.NoError(t, ba.Write(t.Context(), order(key(1000+i), "from b")))
	}
	eventuallyHas(t, b.store, key(99), "from a")
	eventuallyHas(t, a.store, key(1099), "from b")
	require.Eventually(t, func() bool {
		la, _ := ab.Lag(t.Context())
		lb, _ := ba.Lag(t.Context())
		return la[0].Pending == 0 && lb[0].Pending == 0
	}, 10*time.Second, 5*time.Millisecond)

	// Each region's changelog holds its own 100 writes and the peer's 100,
	// once each: nothing came back.
	for _, n := range ns {
		require.Len(t, allChanges(t, n.store, ""), 200, "changelog of %s", n.name)
	}
}

// gatedStore counts the local transactions (Apply calls) and holds the
// first one until open is closed.
type gatedStore struct {
	xregion.Store
	open    chan struct{}
	applies atomic.Int64
}

func (g *gatedStore) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	if g.applies.Add(1) == 1 {
		<-g.open
	}
	return g.Store.Apply(ctx, b)
}

func TestAsync_WriteGroupCommits(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	local := &gatedStore{Store: a.store, open: make(chan struct{})}
	rep, err := replicate.NewAsync(local, a.clock, []xregion.Store{b.remote}, replicate.WithLocalInFlight(1))
	require.NoError(t, err)
	defer rep.Close()

	// The first write holds the only slot; 16 more queue behind it, one of
	// them for a table no store has.
	first := make(chan error, 1)
	go func() { first <- rep.Write(t.Context(), order("first", "v")) }()
	require.Eventually(t, func() bool { return local.applies.Load() == 1 }, 5*time.Second, time.Millisecond)
	errs := make(chan error, 16)
	for i := range 16 {
		w := order(key(i), "v")
		if i == 7 {
			w.Table = "nosuchtable"
		}
		go func() { errs <- rep.Write(t.Context(), w) }()
	}
	// The committer holds one of them while it waits for the slot.
	require.Eventually(t, func() bool { return replicate.QueuedLocal(rep) == 15 }, 5*time.Second, time.Millisecond)
	close(local.open)
	require.NoError(t, <-first)
	failed := 0
	for range 16 {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, xregion.ErrUnknownTable)
			failed++
		}
	}
	require.Equal(t, 1, failed, "only the write to the unknown table fails")

	// One transaction for the first write, one for the 16 that queued
	// (refused for the unknown table), then each of those 16 alone.
	require.Equal(t, int64(1+1+16), local.applies.Load())
	for i := range 16 {
		if i != 7 {
			eventuallyHas(t, b.store, key(i), "v")
		}
	}
}
