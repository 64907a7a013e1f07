package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func (s suite) testLedger(t *testing.T) {
	t.Run("TwoRegions", func(t *testing.T) {
		a := s.store(t, regionA, "t")
		b := s.store(t, regionB, "t")
		// Neither writer has seen the other's write; b's is stamped later.
		wa := rec("k", "from a", ver(10, regionA))
		wb := rec("k", "from b", ver(20, regionB))
		apply(t, a, local(wr("t", wa)))
		apply(t, b, local(wr("t", wb)))

		// Each ships its write to the other. a's write loses in both
		// regions: in a it is the local record replaced, in b the incoming
		// record refused.
		ra := apply(t, a, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", wb)}})
		requireCounts(t, 1, 0, 1, ra)
		rb := apply(t, b, xregion.Batch{From: regionA, Writes: []xregion.Write{wr("t", wa)}})
		requireCounts(t, 0, 1, 1, rb)
		requireRecord(t, wb, get(t, a, "t", "k"), "regions converge")
		requireRecord(t, wb, get(t, b, "t", "k"), "regions converge")

		for i, st := range []xregion.Store{a, b} {
			lus := lostUpdates(t, st)
			require.Len(t, lus, 1, "ledger of %s", st.Region())
			lu := lus[0]
			requireLostUpdate(t, lu, []xregion.Result{ra, rb}[i].Lost[0], "Result.Lost is the ledger's entry")
			require.Positive(t, lu.ID)
			require.Equal(t, "t", lu.Table)
			requireRecord(t, wa, lu.Lost)
			require.Equal(t, wb.Version, lu.Winner)
			require.Equal(t, xregion.LostConcurrent, lu.Reason)
			require.Equal(t, st.Region(), lu.Region, "Region is where the conflict was detected")
			require.False(t, lu.At.IsZero(), "At is not set")
		}
	})

	t.Run("Fenced", func(t *testing.T) {
		// A resolver that fences every write it is given (as a single-writer
		// table does with a stale epoch): kept in the ledger, not applied,
		// and the batch goes on.
		st := s.newStore(t, regionA)
		fence := xregion.ResolverFunc(func(local, in xregion.Record) (xregion.Resolution, error) {
			return xregion.Resolution{Lost: &in, Reason: xregion.LostFenced}, nil
		})
		require.NoError(t, st.DefineTable(t.Context(), "fenced", fence))
		w := rec("k", "stale", ver(10, regionB))
		res := apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("fenced", w)}})
		requireCounts(t, 0, 1, 1, res)
		_, err := st.Get(t.Context(), "fenced", "k")
		require.ErrorIs(t, err, xregion.ErrNotFound, "a fenced write is not applied")
		lus := lostUpdates(t, st)
		require.Len(t, lus, 1)
		require.Equal(t, xregion.LostFenced, lus[0].Reason)
		require.True(t, lus[0].Winner.IsZero(), "nothing was stored, so nothing won")
		requireRecord(t, w, lus[0].Lost)
		requireLostUpdate(t, lus[0], res.Lost[0], "the writer learns the ledger ID of its fenced write")
	})

	t.Run("Idempotent", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		wa := rec("k", "from a", ver(10, regionA))
		wb := rec("k", "from b", ver(20, regionB))
		apply(t, st, local(wr("t", wa)))
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", wb)}})
		require.Len(t, lostUpdates(t, st), 1)

		// The losing write comes back (a resync, a resent batch), twice in
		// one batch even; the winner comes back too. The loss is the same
		// loss and is recorded once.
		require.Equal(t, xregion.Result{Unchanged: 1}, apply(t, st, local(wr("t", wa))))
		require.Equal(t, xregion.Result{Unchanged: 2}, apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", wa), wr("t", wa)}}))
		require.Equal(t, xregion.Result{Unchanged: 1}, apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", wb)}}))
		require.Len(t, lostUpdates(t, st), 1)

		// A new conflict whose losing write appears twice in its batch is
		// recorded once, and counted once.
		apply(t, st, local(wr("t", rec("j", "from a", ver(30, regionA)))))
		lost := rec("j", "from c", ver(25, regionC))
		requireCounts(t, 0, 2, 1, apply(t, st, xregion.Batch{From: regionC, Writes: []xregion.Write{wr("t", lost), wr("t", lost)}}))
		lus := lostUpdates(t, st)
		require.Len(t, lus, 2)
		requireRecord(t, lost, lus[1].Lost)
		require.Equal(t, ver(30, regionA), lus[1].Winner)
	})

	t.Run("Supersede", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		v1 := rec("k", "v1", ver(1, regionA))
		v2 := based(rec("k", "v2", ver(2, regionB)), v1.Version) // b had read v1
		v3 := based(rec("k", "v3", ver(3, regionA)), v2.Version) // a had read v2
		v4 := rec("k", "v4", ver(4, regionA))                    // blind, but a's own
		apply(t, st, local(wr("t", v1)))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", v2)}}))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", v3))))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", v4))))
		require.Empty(t, lostUpdates(t, st))
	})

	t.Run("Paging", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		const n = 3
		for i := range n {
			key := fmt.Sprint("k", i)
			apply(t, st, local(wr("t", rec(key, "a", ver(10, regionA)))))
			apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", rec(key, "b", ver(20, regionB)))}})
		}
		all := lostUpdates(t, st)
		require.Len(t, all, n)
		for i, lu := range all {
			require.Equal(t, fmt.Sprint("k", i), lu.Lost.Key, "oldest first")
			if i > 0 {
				require.Greater(t, lu.ID, all[i-1].ID, "IDs increase")
			}
		}

		ctx := t.Context()
		page, err := st.LostUpdates(ctx, 0, 2)
		require.NoError(t, err)
		require.Equal(t, all[:2], page)
		page, err = st.LostUpdates(ctx, page[1].ID, 2)
		require.NoError(t, err)
		require.Equal(t, all[2:], page)
		page, err = st.LostUpdates(ctx, all[n-1].ID, 2)
		require.NoError(t, err)
		require.Empty(t, page)
	})

	t.Run("InvalidLimit", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		for _, limit := range []int{0, -1, xregion.MaxChangeLimit + 1} {
			_, err := st.LostUpdates(t.Context(), 0, limit)
			require.ErrorIs(t, err, xregion.ErrInvalid, "limit %d", limit)
		}
	})
}

func (s suite) testContext(t *testing.T) {
	t.Run("Cancelled", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := st.Apply(ctx, peerBatch(regionB, pos(0, 0), pos(1, 0), wr("t", rec("k", "v", ver(1, regionB)))))
		require.ErrorIs(t, err, context.Canceled)
		requireNotFound(t, st, "t", "k")
		requireWatermark(t, st, regionB, pos(0, 0))
	})
}

// requireCounts checks what a Result counts: writes applied and unchanged,
// and entries added to the ledger.
func requireCounts(t *testing.T, applied, unchanged, lost int, res xregion.Result) {
	t.Helper()
	require.Equal(t, applied, res.Applied, "applied")
	require.Equal(t, unchanged, res.Unchanged, "unchanged")
	require.Len(t, res.Lost, lost, "ledger entries added")
	require.Equal(t, lost, res.Conflicts())
	require.False(t, res.Duplicate)
}

// requireLostUpdate checks that got is the ledger entry want.
func requireLostUpdate(t *testing.T, want, got xregion.LostUpdate, msg string) {
	t.Helper()
	require.Equal(t, want.ID, got.ID, msg)
	require.Equal(t, want.Table, got.Table, msg)
	requireRecord(t, want.Lost, got.Lost, msg)
	require.Equal(t, want.Reason, got.Reason, msg)
	require.Equal(t, want.Winner, got.Winner, msg)
	require.Equal(t, want.Region, got.Region, msg)
	require.True(t, want.At.Equal(got.At), "%s: At %s, want %s", msg, got.At, want.At)
}
