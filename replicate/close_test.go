package replicate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// returns runs f, a call that must not block, and fails the test if it has
// not returned within a generous bound.
func returns(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// A write after Close, with a context that never ends, fails at once.
func TestAsync_WriteAfterClose(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.store})
	require.NoError(t, err)
	require.NoError(t, rep.Close())
	err = returns(t, "Write after Close", func() error { return rep.Write(context.Background(), order("k", "v")) })
	require.ErrorIs(t, err, replicate.ErrClosed)
	require.NotErrorIs(t, err, xregion.ErrOutcomeUnknown, "nothing was sent: the write is certainly not there")
	_, err = a.store.Get(t.Context(), "orders", "k")
	require.ErrorIs(t, err, xregion.ErrNotFound)

	s, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.store})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	err = returns(t, "Sync.Write after Close", func() error { return s.Write(context.Background(), order("k", "v")) })
	require.ErrorIs(t, err, replicate.ErrClosed)
}

// A synchronous write waiting for a dark peer, with a context that never
// ends, returns when the replicator closes: its outcome is unknown, since
// the local commit and the staging may have happened.
func TestSync_WriteInFlightDuringClose(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithHeartbeat(100*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, rep.Write(t.Context(), order("before", "v")), "the peer answers at first")
	b.pg.Proxy.Blackhole()
	defer b.pg.Proxy.Heal()

	done := make(chan error, 1)
	go func() { done <- rep.Write(context.Background(), order("k", "v")) }()
	require.Eventually(t, func() bool {
		_, err := a.store.Get(t.Context(), "orders", "k")
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "the write commits locally and waits for the peer")
	require.NoError(t, returns(t, "Close", rep.Close))
	err = returns(t, "the write in flight", func() error { return <-done })
	require.ErrorIs(t, err, replicate.ErrClosed)
	require.ErrorIs(t, err, xregion.ErrOutcomeUnknown, "the peer may hold it staged")
}
