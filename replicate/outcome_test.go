package replicate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// fencing is the resolver of a single-writer table whose every write comes
// from a stale home: quarantined in the ledger, never applied.
var fencing = xregion.ResolverFunc(func(local, in xregion.Record) (xregion.Resolution, error) {
	return xregion.Resolution{Lost: &in, Reason: xregion.LostFenced}, nil
})

// A write the local store fences is reported to its writer, with the ledger
// entry that holds it, not as a success.
func TestAsync_WriteFenced(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	require.NoError(t, a.store.DefineTable(t.Context(), "accounts", fencing))
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.store})
	require.NoError(t, err)
	defer rep.Close()
	err = rep.Write(t.Context(), xregion.Write{Table: "accounts", Record: xregion.Record{Key: "acct-1", Value: []byte("stale")}})
	requireFenced(t, a.store, err, "acct-1")
}

// A synchronous write the local store fences, or refuses for certain, is
// withdrawn from the peers' stages: a failover there must not make visible
// a write its writer was told had failed.
func TestSync_DefiniteLocalFailureLeavesNothingStaged(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	require.NoError(t, a.store.DefineTable(t.Context(), "accounts", fencing))
	define(t, b.store, b.clock, "accounts", "audit") // the peer has a table a lacks
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.store})
	require.NoError(t, err)

	// Write stamps the writes in place: keep them, to look for them later.
	fenced := []xregion.Write{{Table: "accounts", Record: xregion.Record{Key: "acct-1", Value: []byte("stale")}}}
	errFenced := rep.Write(t.Context(), fenced...)
	unknown := []xregion.Write{{Table: "audit", Record: xregion.Record{Key: "e-1", Value: []byte("v")}}}
	errUnknown := rep.Write(t.Context(), unknown...)
	// Close waits for the stagings still on their way: they land after
	// the writers were answered.
	require.NoError(t, rep.Close())

	requireFenced(t, a.store, errFenced, "acct-1")
	requireNothingStaged(t, b.store, fenced[0], errFenced)
	require.ErrorIs(t, errUnknown, xregion.ErrUnknownTable, "the local commit failed")
	requireNothingStaged(t, b.store, unknown[0], errUnknown)
}

func requireFenced(t *testing.T, local xregion.Store, err error, key string) {
	t.Helper()
	require.ErrorIs(t, err, replicate.ErrFenced)
	var fe *replicate.FencedError
	require.ErrorAs(t, err, &fe)
	require.Len(t, fe.Lost, 1)
	lus, lerr := local.LostUpdates(context.Background(), 0, 10)
	require.NoError(t, lerr)
	require.NotEmpty(t, lus)
	last := lus[len(lus)-1]
	require.Equal(t, last.ID, fe.Lost[0].ID, "the error names the ledger entry")
	require.Equal(t, key, fe.Lost[0].Lost.Key)
	require.Contains(t, err.Error(), key)
	_, gerr := local.Get(context.Background(), fe.Lost[0].Table, key)
	require.ErrorIs(t, gerr, xregion.ErrNotFound, "not applied")
}

// requireNothingStaged checks that a write reported failed for certain is
// neither waiting in the peer's stage nor made visible by a failover there.
func requireNothingStaged(t *testing.T, peer xregion.Store, w xregion.Write, err error) {
	t.Helper()
	sg := peer.(xregion.Stager)
	held, herr := sg.Holding(t.Context(), "a", []xregion.Write{w})
	require.NoError(t, herr)
	require.Equal(t, []bool{false}, held, "withdrawn from the peer's stage")
	_, aerr := sg.ApplyStaged(t.Context())
	require.NoError(t, aerr)
	_, gerr := peer.Get(t.Context(), w.Table, w.Record.Key)
	require.ErrorIs(t, gerr, xregion.ErrNotFound, "a failover at the peer does not make it visible")
	require.NotErrorIs(t, err, xregion.ErrOutcomeUnknown, "the failure is certain")
}

// A write whose base is further ahead than the clock may follow is refused
// for what it is, a clock offset, not stamped before what it read.
func TestAsync_WriteAfterAFutureBase(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.store})
	require.NoError(t, err)
	defer rep.Close()
	future := xregion.Version{Time: xregion.Timestamp{WallTime: time.Now().Add(time.Hour).UnixNano()}, Region: "b"}
	w := order("k", "v")
	w.Record.Base = future
	err = rep.Write(t.Context(), w)
	require.ErrorIs(t, err, xregion.ErrClockOffset)
}
