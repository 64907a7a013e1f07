package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// testPositions checks that a store refuses positions it has not issued,
// as it must after its positions went back (a restore, a restart of an
// in-memory store): a shipper resuming from a peer's watermark there would
// otherwise read nothing, and a lag tracker count nothing, without a word.
func (s suite) testPositions(t *testing.T) {
	// Far beyond anything a store issues in a test, yet a valid bigint.
	beyond := pos(1<<62, 0)

	t.Run("BeyondTheHead", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		apply(t, st, local(wr("t", rec("k", "v", ver(1, regionA)))))
		_, head := drain(t, st, xregion.Position{})

		_, err := st.Changes(t.Context(), xregion.ChangeQuery{After: beyond, Origin: regionA, Limit: 10})
		requirePositionsError(t, st, err, beyond)
		_, err = st.Changes(t.Context(), xregion.ChangeQuery{After: beyond, Limit: 10})
		requirePositionsError(t, st, err, beyond)
		_, err = st.Backlog(t.Context(), beyond, regionA)
		requirePositionsError(t, st, err, beyond)

		// Positions it issued, and those between them, are fine.
		cs, err := st.Changes(t.Context(), xregion.ChangeQuery{After: head, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, cs)
		b, err := st.Backlog(t.Context(), head, regionA)
		require.NoError(t, err)
		require.Zero(t, b.Changes)
	})

	t.Run("Advance", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		adv, ok := st.(xregion.PositionAdvancer)
		if !ok {
			t.Skip("the store is not an xregion.PositionAdvancer")
		}
		apply(t, st, local(wr("t", rec("old", "v", ver(1, regionA)))))
		before, _ := drain(t, st, xregion.Position{})

		past := pos(1<<40, 7)
		first, err := adv.AdvancePositions(t.Context(), past)
		require.NoError(t, err)
		require.True(t, past.Less(first), "the first position from now on, %s, is after %s", first, past)

		// A peer whose watermark stands at past is served again, and gets
		// what is written from now on.
		cs, err := st.Changes(t.Context(), xregion.ChangeQuery{After: past, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, cs)
		apply(t, st, local(wr("t", rec("new", "v", ver(2, regionA)))))
		after, _ := drain(t, st, past)
		require.Equal(t, []string{"t/new"}, keys(after))
		require.False(t, after[0].Pos.Less(first), "change at %s, before the first position %s", after[0].Pos, first)
		b, err := st.Backlog(t.Context(), past, regionA)
		require.NoError(t, err)
		require.GreaterOrEqual(t, b.Changes, int64(1))

		// What was there keeps its place, before the rest.
		all, _ := drain(t, st, xregion.Position{})
		require.Equal(t, keys(before), keys(all[:len(before)]))

		// Positions never move back.
		again, err := adv.AdvancePositions(t.Context(), xregion.Position{})
		require.NoError(t, err)
		require.True(t, past.Less(again), "advancing to zero moved positions back to %s", again)
		apply(t, st, local(wr("t", rec("newer", "v", ver(3, regionA)))))
		after, _ = drain(t, st, after[len(after)-1].Pos)
		require.Equal(t, []string{"t/newer"}, keys(after))
	})
}

func requirePositionsError(t *testing.T, st xregion.Store, err error, beyond xregion.Position) {
	t.Helper()
	require.ErrorIs(t, err, xregion.ErrPositionsReset)
	var pe *xregion.PositionsError
	require.True(t, errors.As(err, &pe), "%v is not a *xregion.PositionsError", err)
	require.Equal(t, st.Region(), pe.Region)
	require.Equal(t, beyond, pe.Beyond)
	require.False(t, pe.Held, "the position was given, not held")
	require.True(t, pe.Next.Less(beyond))
}
