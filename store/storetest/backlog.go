package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func (s suite) testBacklog(t *testing.T) {
	t.Run("CountsWhatAPeerLacks", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		backlog := func(after xregion.Position, origin xregion.Region) xregion.Backlog {
			t.Helper()
			b, err := st.Backlog(t.Context(), after, origin)
			require.NoError(t, err)
			return b
		}
		empty := backlog(xregion.Position{}, regionA)
		require.Zero(t, empty.Changes)
		require.Zero(t, empty.Age(), "no backlog, no age")
		require.False(t, empty.Now.IsZero(), "Now is always set")

		apply(t, st, local(wr("t", rec("k1", "12345", ver(1, regionA))), wr("t", rec("k2", "", ver(2, regionA)))))
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", rec("k3", "b", ver(3, regionB)))}})
		apply(t, st, local(wr("t", rec("k4", "x", ver(4, regionA)))))

		all := backlog(xregion.Position{}, regionA)
		require.EqualValues(t, 3, all.Changes, "only changes made in the origin count")
		require.EqualValues(t, len("k1")+5+len("k2")+len("k4")+1, all.Bytes)
		require.False(t, all.Oldest.IsZero())
		require.False(t, all.Now.Before(all.Oldest))

		// drain appends a marker write of its own, made in regionA too.
		changes, marker := drain(t, st, xregion.Position{})
		var ownA []xregion.Change
		for _, c := range changes {
			if c.Origin() == regionA && c.Table == "t" {
				ownA = append(ownA, c)
			}
		}
		require.Len(t, ownA, 3)
		require.Equal(t, ownA[2].Pos, all.Head, "Head is the last change of the origin")

		rest := backlog(ownA[1].Pos, regionA)
		require.EqualValues(t, 2, rest.Changes, "a peer at the second change lacks the third and the marker")
		require.Equal(t, marker, rest.Head)
		require.Zero(t, backlog(marker, regionA).Changes, "a peer at the head lacks nothing")
		require.EqualValues(t, 1, backlog(xregion.Position{}, regionB).Changes)
	})

	t.Run("AgreesWithChanges", func(t *testing.T) {
		// From every position, a change's or one between changes, Backlog
		// describes exactly the origin's changes that Changes returns
		// after it, once every transaction has ended.
		st := s.store(t, regionA, "t")
		interleaveOrigins(t, st, 30)
		_, marker := drain(t, st, xregion.Position{})
		all, err := st.Changes(t.Context(), xregion.ChangeQuery{Limit: xregion.MaxChangeLimit})
		require.NoError(t, err)
		require.Equal(t, marker, all[len(all)-1].Pos)
		after := []xregion.Position{{}}
		for _, c := range all {
			after = append(after, c.Pos, pos(c.Pos.Tx, c.Pos.Index+1))
		}
		for _, p := range after {
			for _, origin := range []xregion.Region{regionA, regionB, regionC, "region-d"} {
				var want xregion.Backlog
				for _, c := range all {
					if p.Less(c.Pos) && c.Origin() == origin {
						want.Changes++
						want.Bytes += int64(len(c.Record.Key) + len(c.Record.Value))
						if want.Oldest.IsZero() || c.Time.Before(want.Oldest) {
							want.Oldest = c.Time
						}
						want.Head = c.Pos
					}
				}
				got, err := st.Backlog(t.Context(), p, origin)
				require.NoError(t, err)
				require.Equal(t, want.Changes, got.Changes, "changes of %s after %s", origin, p)
				require.Equal(t, want.Bytes, got.Bytes, "bytes of %s after %s", origin, p)
				require.True(t, want.Oldest.Equal(got.Oldest), "oldest of %s after %s: %s, want %s", origin, p, got.Oldest, want.Oldest)
				require.Equal(t, want.Head, got.Head, "head of %s after %s", origin, p)
			}
		}
	})

	t.Run("InvalidOrigin", func(t *testing.T) {
		st := s.store(t, regionA)
		_, err := st.Backlog(t.Context(), xregion.Position{}, "Not A Region")
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
}
