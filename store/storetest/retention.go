package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// testRetention checks xregion.Retainer, for stores that offer it.
func (s suite) testRetention(t *testing.T) {
	if _, ok := s.newStore(t, regionA).(xregion.Retainer); !ok {
		t.Skip("the store does not implement xregion.Retainer")
	}
	retainer := func(t *testing.T, tables ...string) (xregion.Store, xregion.Retainer) {
		st := s.store(t, regionA, tables...)
		return st, st.(xregion.Retainer)
	}
	// fromB applies n changes of region b from its changelog, at places
	// 1/0 to n/0 there, one batch each, a moment apart so that their times
	// differ, and returns them as the changelog holds them. Entries of b
	// are what the subtests truncate: drain's markers are region a's.
	fromB := func(t *testing.T, st xregion.Store, n int) []xregion.Change {
		t.Helper()
		for i := range n {
			w := wr("t", rec(fmt.Sprint("k", i), "v", ver(int64(10+i), regionB)))
			w.Pos = pos(uint64(i+1), 0)
			apply(t, st, xregion.Batch{From: regionB, After: pos(uint64(i), 0), Through: w.Pos, Writes: []xregion.Write{w}})
			time.Sleep(2 * time.Millisecond)
		}
		cs, _ := drain(t, st, xregion.Position{})
		require.Len(t, cs, n)
		return cs
	}
	truncate := func(t *testing.T, r xregion.Retainer, tr xregion.Truncation) int {
		t.Helper()
		n, err := r.TruncateChanges(t.Context(), tr)
		require.NoError(t, err)
		return n
	}
	changesB := func(t *testing.T, st xregion.Store, after xregion.Position) ([]xregion.Change, error) {
		return st.Changes(t.Context(), xregion.ChangeQuery{After: after, Origin: regionB, Limit: 100})
	}

	t.Run("TruncateThrough", func(t *testing.T) {
		st, r := retainer(t, "t")
		cs := fromB(t, st, 5)
		_, err := st.Backlog(t.Context(), xregion.Position{}, regionB) // a store may keep what it counted
		require.NoError(t, err)
		require.Equal(t, 3, truncate(t, r, xregion.Truncation{Origin: regionB, Through: cs[2].Pos, Limit: 100}))

		got, err := changesB(t, st, cs[2].Pos)
		require.NoError(t, err, "reading after the last entry removed is reading what is left")
		require.Equal(t, []string{"t/k3", "t/k4"}, keys(got))

		// A read of what lies past a place in b's changelog fails only if
		// retention removed something past that place.
		got, err = st.Changes(t.Context(), xregion.ChangeQuery{Origin: regionB, OriginAfter: pos(3, 0), Limit: 100})
		require.NoError(t, err, "nothing past b's 3/0 was removed")
		require.Equal(t, []string{"t/k3", "t/k4"}, keys(got))
		_, err = st.Changes(t.Context(), xregion.ChangeQuery{Origin: regionB, OriginAfter: pos(2, 0), Limit: 100})
		require.ErrorIs(t, err, xregion.ErrTruncated, "b's 3/0 was removed")

		for _, q := range []xregion.ChangeQuery{
			{Origin: regionB, Limit: 100},
			{After: cs[1].Pos, Origin: regionB, Limit: 100},
			{Limit: 100}, // every origin
		} {
			_, err = st.Changes(t.Context(), q)
			var te *xregion.TruncatedError
			require.ErrorAs(t, err, &te, "a read from %s would skip removed entries", q.After)
			require.ErrorIs(t, err, xregion.ErrTruncated)
			require.Equal(t, xregion.TruncatedError{Region: regionA, Origin: regionB, After: q.After, Through: cs[2].Pos, Time: te.Time,
				OriginPos: pos(3, 0)}, *te)
			require.WithinDuration(t, cs[2].Time, te.Time, time.Millisecond, "the time of the last entry removed")
		}
		_, err = st.Changes(t.Context(), xregion.ChangeQuery{Origin: regionA, Limit: 100})
		require.NoError(t, err, "another origin's entries were not touched")

		p, at, err := r.Truncated(t.Context(), regionB)
		require.NoError(t, err)
		require.Equal(t, cs[2].Pos, p)
		require.WithinDuration(t, cs[2].Time, at, time.Millisecond)
		p, at, err = r.Truncated(t.Context(), regionA)
		require.NoError(t, err)
		require.True(t, p.IsZero() && at.IsZero(), "nothing of region a was removed")

		b, err := st.Backlog(t.Context(), xregion.Position{}, regionB)
		require.NoError(t, err)
		require.EqualValues(t, 2, b.Changes, "Backlog counts what is left")
		require.Equal(t, cs[4].Pos, b.Head)

		require.Zero(t, truncate(t, r, xregion.Truncation{Origin: regionB, Through: cs[2].Pos, Limit: 100}), "again: nothing left to remove")
	})

	t.Run("Limit", func(t *testing.T) {
		st, r := retainer(t, "t")
		cs := fromB(t, st, 5)
		tr := xregion.Truncation{Origin: regionB, Through: cs[4].Pos, Limit: 2}
		for _, want := range []int{2, 2, 1, 0} {
			require.Equal(t, want, truncate(t, r, tr))
		}
		p, _, err := r.Truncated(t.Context(), regionB)
		require.NoError(t, err)
		require.Equal(t, cs[4].Pos, p)
		got, err := changesB(t, st, cs[4].Pos)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("TruncateBefore", func(t *testing.T) {
		st, r := retainer(t, "t")
		cs := fromB(t, st, 5)
		// Everything appended before the fourth entry goes; nothing bounds
		// the position.
		require.Equal(t, 3, truncate(t, r, xregion.Truncation{Origin: regionB, Before: cs[3].Time, Limit: 100}))
		got, err := changesB(t, st, cs[2].Pos)
		require.NoError(t, err)
		require.Equal(t, []string{"t/k3", "t/k4"}, keys(got))
		// Both bounds: the nearer one holds.
		require.Equal(t, 1, truncate(t, r, xregion.Truncation{Origin: regionB, Through: cs[3].Pos, Before: cs[4].Time.Add(time.Hour), Limit: 100}))
		p, _, err := r.Truncated(t.Context(), regionB)
		require.NoError(t, err)
		require.Equal(t, cs[3].Pos, p)
	})

	t.Run("TruncateInvalid", func(t *testing.T) {
		_, r := retainer(t, "t")
		for name, tr := range map[string]xregion.Truncation{
			"NoBound":  {Origin: regionB, Limit: 10},
			"NoOrigin": {Through: pos(1, 0), Limit: 10},
			"NoLimit":  {Origin: regionB, Through: pos(1, 0)},
			"TooMany":  {Origin: regionB, Through: pos(1, 0), Limit: xregion.MaxChangeLimit + 1},
		} {
			_, err := r.TruncateChanges(t.Context(), tr)
			require.ErrorIs(t, err, xregion.ErrInvalid, name)
		}
		_, _, err := r.Truncated(t.Context(), "")
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})

	t.Run("CollectTombstones", func(t *testing.T) {
		st, r := retainer(t, "t", "u")
		tomb := func(key string, n int64) xregion.Record {
			return xregion.Record{Key: key, Version: ver(n, regionA), Tombstone: true}
		}
		apply(t, st, local(wr("t", tomb("k1", 10)), wr("t", tomb("k2", 20)), wr("t", tomb("k3", 30)),
			wr("t", rec("k4", "live", ver(5, regionA))), wr("u", tomb("k1", 15))))
		collect := func(before xregion.Version, limit int) int {
			n, err := r.CollectTombstones(t.Context(), before.Time, limit)
			require.NoError(t, err)
			return n
		}
		require.Equal(t, 2, collect(ver(20, regionA), 100), "t/k1 and u/k1: before is exclusive")
		requireNotFound(t, st, "t", "k1")
		requireNotFound(t, st, "u", "k1")
		require.True(t, get(t, st, "t", "k2").Tombstone)
		requireRecord(t, rec("k4", "live", ver(5, regionA)), get(t, st, "t", "k4"), "live records stay, however old")

		// A write waiting in the stage keeps its key's tombstone: without
		// it, the older write would come back when the stage is applied.
		if sg, ok := st.(xregion.Stager); ok {
			old := wr("t", rec("k3", "older", ver(25, regionB)))
			require.NoError(t, sg.Stage(t.Context(), regionB, []xregion.Write{old}))
			require.Equal(t, 1, collect(ver(100, regionA), 100), "only t/k2")
			require.True(t, get(t, st, "t", "k3").Tombstone)
			_, err := sg.ApplyStaged(t.Context())
			require.NoError(t, err)
			require.True(t, get(t, st, "t", "k3").Tombstone, "the tombstone wins against the older write")
		} else {
			require.Equal(t, 1, collect(ver(25, regionA), 100), "only t/k2")
		}

		// Limit: t/k3 (its staged write is gone) and three more.
		apply(t, st, local(wr("t", tomb("m1", 40)), wr("t", tomb("m2", 41)), wr("t", tomb("m3", 42))))
		total := 0
		for {
			n := collect(ver(100, regionA), 1)
			require.LessOrEqual(t, n, 1)
			if n == 0 {
				break
			}
			total += n
		}
		require.Equal(t, 4, total)
		requireNotFound(t, st, "t", "k3")

		_, err := r.CollectTombstones(t.Context(), ver(1, regionA).Time, 0)
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})

	// losses records n lost updates in st, a moment apart, and returns them.
	losses := func(t *testing.T, st xregion.Store, from, n int) []xregion.LostUpdate {
		t.Helper()
		for i := from; i < from+n; i++ {
			key := fmt.Sprint("c", i)
			apply(t, st, local(wr("t", rec(key, "a", ver(20, regionA)))))
			apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", rec(key, "b", ver(10, regionB)))}})
			time.Sleep(2 * time.Millisecond)
		}
		return lostUpdates(t, st)
	}
	trim := func(t *testing.T, r xregion.Retainer, before time.Time, limit int) int {
		t.Helper()
		n, err := r.TrimLedger(t.Context(), before, limit)
		require.NoError(t, err)
		return n
	}

	t.Run("TrimLedger", func(t *testing.T) {
		st, r := retainer(t, "t")
		all := losses(t, st, 0, 4)
		require.Len(t, all, 4)
		require.Zero(t, trim(t, r, time.Time{}, 100), "no time and no reader: nothing goes")
		require.Equal(t, 1, trim(t, r, all[2].At, 1), "limit")
		require.Equal(t, 1, trim(t, r, all[2].At, 100), "recorded before the third entry")
		left := lostUpdates(t, st)
		require.Equal(t, all[2:], left, "IDs stay as they were")
		page, err := st.LostUpdates(t.Context(), 0, 1)
		require.NoError(t, err)
		require.Equal(t, all[2:3], page, "paging from before the removed entries starts at the first left")

		// A loss recorded again after its entry went is a new entry.
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", rec("c0", "b", ver(10, regionB)))}})
		now := lostUpdates(t, st)
		require.Len(t, now, 3)
		require.Greater(t, now[2].ID, all[3].ID)
		requireRecord(t, all[0].Lost, now[2].Lost)
	})

	t.Run("AckLostUpdates", func(t *testing.T) {
		st, r := retainer(t, "t")
		ack := func(reader string, through int64) {
			t.Helper()
			require.NoError(t, r.AckLostUpdates(t.Context(), reader, through))
		}
		all := losses(t, st, 0, 3)
		ack("conflict-ui", all[1].ID)
		require.Equal(t, 2, trim(t, r, time.Time{}, 100), "what the only reader acknowledged")

		// A second reader holds what it has not acknowledged.
		ack("audit", 0)
		all = losses(t, st, 3, 2) // entries 3 to 5 are left
		require.Len(t, all, 3)
		ack("conflict-ui", all[2].ID)
		require.Zero(t, trim(t, r, time.Time{}, 100))
		ack("audit", all[1].ID)
		require.Equal(t, 2, trim(t, r, time.Time{}, 100))
		ack("audit", all[0].ID)
		require.Zero(t, trim(t, r, time.Time{}, 100), "an acknowledgement only moves forward")

		// One beyond the last entry stops there: the next entry waits.
		ack("audit", all[2].ID+1000)
		require.Equal(t, 1, trim(t, r, time.Time{}, 100))
		next := losses(t, st, 5, 1)
		require.Len(t, next, 1)
		require.Zero(t, trim(t, r, time.Time{}, 100), "not acknowledged by anyone yet")
		require.Equal(t, 1, trim(t, r, next[0].At.Add(time.Millisecond), 100), "time alone is enough")

		require.ErrorIs(t, r.AckLostUpdates(t.Context(), "", 1), xregion.ErrInvalid)
		require.ErrorIs(t, r.AckLostUpdates(t.Context(), "Bad Name", 1), xregion.ErrInvalid)
		require.ErrorIs(t, r.AckLostUpdates(t.Context(), "ui", -1), xregion.ErrInvalid)
		_, err := r.TrimLedger(t.Context(), time.Time{}, 0)
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})

	t.Run("SweepStage", func(t *testing.T) {
		st, r := retainer(t, "t")
		sg, ok := st.(xregion.Stager)
		if !ok {
			t.Skip("the store does not implement xregion.Stager")
		}
		ctx := t.Context()
		sweep := func(before time.Time, limit int) int {
			t.Helper()
			n, err := r.SweepStage(ctx, before, limit)
			require.NoError(t, err)
			return n
		}
		holding := func(from xregion.Region, ws ...xregion.Write) []bool {
			t.Helper()
			h, err := sg.Holding(ctx, from, ws)
			require.NoError(t, err)
			return h
		}

		// Settled: held already (it came by another path than b's stream),
		// superseded by a write that had read it, or a loser whose loss the
		// ledger has. Pending: newer than the stored record, or a loser the
		// ledger has not recorded yet (applying it would).
		held := wr("t", rec("held", "v", ver(10, regionB)))
		superseded := wr("t", rec("sup", "old", ver(10, regionB)))
		loser := wr("t", rec("lose", "b", ver(10, regionB)))
		recorded := wr("t", rec("rec", "b", ver(10, regionB)))
		pending := wr("t", based(rec("new", "v", ver(30, regionB)), ver(20, regionA)))
		apply(t, st, xregion.Batch{From: regionC, Writes: []xregion.Write{held}})
		apply(t, st, local(wr("t", based(rec("sup", "new", ver(20, regionA)), superseded.Record.Version)),
			wr("t", rec("lose", "a", ver(20, regionA))), wr("t", rec("rec", "a", ver(20, regionA))),
			wr("t", rec("new", "v", ver(20, regionA)))))
		apply(t, st, xregion.Batch{From: regionC, Writes: []xregion.Write{recorded}}) // the ledger records it
		stagedW := []xregion.Write{held, superseded, loser, recorded, pending}
		require.NoError(t, sg.Stage(ctx, regionB, stagedW))

		require.Equal(t, 1, sweep(time.Time{}, 1), "limit")
		require.Equal(t, 2, sweep(time.Time{}, 100))
		require.Equal(t, []bool{false, false, true, false, true}, holding(regionB, stagedW...))
		require.Zero(t, sweep(time.Time{}, 100))
		n, err := sg.Staged(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		res, err := sg.ApplyStaged(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Applied, "the pending write was kept")
		require.Len(t, res.Lost, 1, "and so was the loss")

		// Withdrawals: kept until before passes them, with their copies.
		w := wr("t", rec("w", "v", ver(40, regionB)))
		require.NoError(t, sg.Withdraw(ctx, regionB, []xregion.Write{w}))
		require.NoError(t, sg.Stage(ctx, regionB, []xregion.Write{w}), "a Stage that was on its way")
		sweep(time.Time{}, 100) // may remove the fenced copy, not the fence
		require.Equal(t, []bool{false}, holding(regionB, w))
		require.Positive(t, sweep(time.Now().Add(time.Hour), 100))
		require.Equal(t, []bool{false}, holding(regionB, w), "the fenced copy went with its fence")
		require.NoError(t, sg.Stage(ctx, regionB, []xregion.Write{w}))
		require.Equal(t, []bool{true}, holding(regionB, w), "a copy staged after the fence went is staged")

		_, err = r.SweepStage(ctx, time.Time{}, 0)
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
}
