package replicate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// stalled is a peer whose changelog stream is stuck (its Apply waits until
// the caller gives up) while staging works: what it holds is staged only.
type stalled struct{ peerStore }

func (s stalled) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	<-ctx.Done()
	return xregion.Result{}, ctx.Err()
}

// The RPO of a synchronous peer comes from the stores: a write the peer
// holds staged counts as held though not yet applied, and one committed
// here that it holds neither way counts from its commit, whichever process
// made it and whatever this replicator's memory says.
func TestSync_LagFromTheStores(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	peer := stalled{peerStore{b.store}}
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{peer})
	require.NoError(t, err)
	defer rep.Close()
	for i := range 5 {
		require.NoError(t, rep.Write(t.Context(), order(key(i), "paid")))
	}
	lags, err := rep.Lag(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 5, lags[0].Pending, "the stream applied nothing")
	require.Zero(t, lags[0].RPO, "every write is staged there: nothing would be lost")

	// Another process of region a commits a write, and its staging fails:
	// this replicator never saw it.
	w := order("other-process", "paid")
	w.Record.Version = xregion.Version{Time: a.clock.Now(), Region: a.name}
	_, err = a.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{w}})
	require.NoError(t, err)
	committed := time.Now() // after the commit: the write is at least as old as this
	asked := time.Now()
	lags, err = rep.Lag(t.Context())
	require.NoError(t, err)
	require.Positive(t, lags[0].RPO, "a write committed here that the peer lacks")
	require.GreaterOrEqual(t, lags[0].RPO, asked.Sub(committed), "counted from its commit")

	// A replicator started afresh (a restart) reports the same.
	rep2, err := replicate.NewSync(a.store, a.clock, []xregion.Store{peer})
	require.NoError(t, err)
	defer rep2.Close()
	lags2, err := rep2.Lag(t.Context())
	require.NoError(t, err)
	require.GreaterOrEqual(t, lags2[0].RPO, lags[0].RPO, "the RPO does not start at zero after a restart")
}

// After a restart, a Sync whose peer is dark still reports what the peer
// lacks: the writes acknowledged while it was degraded.
func TestSync_LagAfterRestart(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	opts := []replicate.Option{replicate.WithPolicy(replicate.Degrade), replicate.WithDegradeAfter(100 * time.Millisecond),
		replicate.WithHeartbeat(100 * time.Millisecond)}
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote}, opts...)
	require.NoError(t, err)
	require.NoError(t, rep.Write(t.Context(), order("before", "v")))
	b.pg.Proxy.Blackhole()
	defer b.pg.Proxy.Heal()
	start := time.Now()
	require.NoError(t, rep.Write(t.Context(), order("degraded", "v")), "acknowledged without the peer")
	require.NoError(t, rep.Close())

	rep2, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote}, opts...)
	require.NoError(t, err)
	defer rep2.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	asked := time.Now()
	lags, err := rep2.Lag(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, lags[0].RPO, asked.Sub(start), "the write acknowledged without the peer counts from its start")
}
