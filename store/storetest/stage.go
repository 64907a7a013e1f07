package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// testStage checks xregion.Stager, for stores that offer it.
func (s suite) testStage(t *testing.T) {
	if _, ok := s.newStore(t, regionA).(xregion.Stager); !ok {
		t.Skip("the store does not implement xregion.Stager")
	}
	stager := func(t *testing.T) (xregion.Store, xregion.Stager) {
		st := s.store(t, regionA, "t")
		return st, st.(xregion.Stager)
	}
	staged := func(t *testing.T, sg xregion.Stager) int64 {
		t.Helper()
		n, err := sg.Staged(t.Context())
		require.NoError(t, err)
		return n
	}

	t.Run("InvisibleUntilApplied", func(t *testing.T) {
		st, sg := stager(t)
		w1 := wr("t", rec("k1", "one", ver(1, regionB)))
		w2 := wr("t", rec("k2", "two", ver(2, regionB)))
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1, w2}))
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1}), "staging twice is harmless")
		require.EqualValues(t, 3, staged(t, sg))
		requireNotFound(t, st, "t", "k1")

		res, err := sg.ApplyStaged(t.Context())
		require.NoError(t, err)
		require.Equal(t, 2, res.Applied)
		require.Equal(t, 1, res.Unchanged, "the second copy of w1 is a replay")
		requireRecord(t, w1.Record, get(t, st, "t", "k1"))
		requireRecord(t, w2.Record, get(t, st, "t", "k2"))
		require.Zero(t, staged(t, sg))
	})

	t.Run("ApplyFromTheSameRegionUnstages", func(t *testing.T) {
		st, sg := stager(t)
		w1 := wr("t", rec("k1", "one", ver(1, regionB)))
		w2 := wr("t", rec("k2", "two", ver(2, regionB)))
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1, w2}))
		// The changelog stream delivers w1; only its staged copy goes.
		apply(t, st, xregion.Batch{From: regionB, After: pos(0, 0), Through: pos(1, 0), Writes: []xregion.Write{w1}})
		require.EqualValues(t, 1, staged(t, sg))
		// Another region's batch with the same key and a different version
		// does not unstage w2.
		apply(t, st, xregion.Batch{From: regionC, Writes: []xregion.Write{wr("t", rec("k2", "c", ver(1, regionC)))}})
		require.EqualValues(t, 1, staged(t, sg))
		_, err := sg.ApplyStaged(t.Context())
		require.NoError(t, err)
		requireRecord(t, w2.Record, get(t, st, "t", "k2"), "the staged write wins over the older one")
	})

	t.Run("EmptyBatchWhileStaged", func(t *testing.T) {
		st, sg := stager(t)
		w1 := wr("t", rec("k1", "one", ver(1, regionB)))
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1}))
		// A batch that only moves the watermark (resync's, past a gap it
		// reconciled) while the peer has writes staged here.
		apply(t, st, xregion.Batch{From: regionB, After: pos(0, 0), Through: pos(3, 0)})
		wm, err := st.Watermark(t.Context(), regionB)
		require.NoError(t, err)
		require.Equal(t, pos(3, 0), wm)
		require.EqualValues(t, 1, staged(t, sg), "an empty batch unstages nothing")
	})

	t.Run("Invalid", func(t *testing.T) {
		_, sg := stager(t)
		require.ErrorIs(t, sg.Stage(t.Context(), "", []xregion.Write{wr("t", rec("k", "v", ver(1, regionB)))}), xregion.ErrInvalid)
		require.ErrorIs(t, sg.Stage(t.Context(), regionB, []xregion.Write{wr("t", rec("", "v", ver(1, regionB)))}), xregion.ErrInvalid)
		require.Zero(t, staged(t, sg))
	})

	t.Run("UnknownTable", func(t *testing.T) {
		// A write staged for a table never defined could only fail later,
		// in ApplyStaged, when a region takes over and needs it: refuse it
		// now, and the whole call with it, as Apply does.
		_, sg := stager(t)
		err := sg.Stage(t.Context(), regionB, []xregion.Write{
			wr("t", rec("k1", "v", ver(1, regionB))),
			wr("nope", rec("k2", "v", ver(2, regionB))),
		})
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		require.Contains(t, err.Error(), "nope", "the error names the table")
		require.Zero(t, staged(t, sg), "nothing of a refused call is staged")
	})

	holding := func(t *testing.T, sg xregion.Stager, from xregion.Region, ws ...xregion.Write) []bool {
		t.Helper()
		h, err := sg.Holding(t.Context(), from, ws)
		require.NoError(t, err)
		return h
	}

	t.Run("Holding", func(t *testing.T) {
		st, sg := stager(t)
		w1 := wr("t", rec("k1", "one", ver(1, regionB)))
		w2 := wr("t", rec("k2", "two", ver(2, regionB)))
		w3 := wr("t", rec("k3", "three", ver(3, regionB)))
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1, w2}))
		require.Equal(t, []bool{true, true, false}, holding(t, sg, regionB, w1, w2, w3))
		require.Equal(t, []bool{false}, holding(t, sg, regionC, w1), "held from b, not from c")
		other := wr("t", rec("k1", "one", ver(9, regionB)))
		require.Equal(t, []bool{false}, holding(t, sg, regionB, other), "the same key at another version is not held")
		// The changelog stream delivers w1: it is no longer waiting.
		apply(t, st, xregion.Batch{From: regionB, After: pos(0, 0), Through: pos(1, 0), Writes: []xregion.Write{w1}})
		require.Equal(t, []bool{false, true}, holding(t, sg, regionB, w1, w2))
	})

	t.Run("Withdraw", func(t *testing.T) {
		// b's local commit of w1 failed for certain: b withdraws it, and a
		// copy of it still on its way, staged after the withdrawal, must
		// never become visible either.
		st, sg := stager(t)
		w1 := wr("t", rec("k1", "failed in b", ver(1, regionB)))
		w2 := wr("t", rec("k2", "two", ver(2, regionB)))
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1, w2}))
		require.NoError(t, sg.Withdraw(t.Context(), regionB, []xregion.Write{w1}))
		require.EqualValues(t, 1, staged(t, sg))
		require.Equal(t, []bool{false, true}, holding(t, sg, regionB, w1, w2))

		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w1}), "a late copy arrives")
		require.EqualValues(t, 1, staged(t, sg), "the late copy does not wait in the stage")
		require.Equal(t, []bool{false}, holding(t, sg, regionB, w1))

		res, err := sg.ApplyStaged(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, res.Applied)
		requireNotFound(t, st, "t", "k1")
		requireRecord(t, w2.Record, get(t, st, "t", "k2"))
	})

	t.Run("WithdrawBeforeStage", func(t *testing.T) {
		// The withdrawal overtakes the staging it answers.
		st, sg := stager(t)
		w := wr("t", rec("k", "failed in b", ver(1, regionB)))
		require.NoError(t, sg.Withdraw(t.Context(), regionB, []xregion.Write{w}), "withdrawing what was never staged is harmless")
		require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{w}))
		require.Zero(t, staged(t, sg))
		_, err := sg.ApplyStaged(t.Context())
		require.NoError(t, err)
		requireNotFound(t, st, "t", "k")
		// Withdrawing again changes nothing.
		require.NoError(t, sg.Withdraw(t.Context(), regionB, []xregion.Write{w, w}))
	})

	t.Run("WithdrawInvalid", func(t *testing.T) {
		_, sg := stager(t)
		w := wr("t", rec("k", "v", ver(1, regionB)))
		require.ErrorIs(t, sg.Withdraw(t.Context(), "", []xregion.Write{w}), xregion.ErrInvalid)
		_, err := sg.Holding(t.Context(), "", []xregion.Write{w})
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
}
