package memstore_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/store/memstore"
)

// TestStore_OriginIndex checks Changes and Backlog for an origin, which go
// through the per-origin index, against a plain scan of the whole
// changelog, from every position and with every page size, under a clock
// that also steps back (so the oldest change is not always the first).
func TestStore_OriginIndex(t *testing.T) {
	ctx := t.Context()
	clock := xregion.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := memstore.New("a", memstore.WithWallClock(clock))
	require.NoError(t, err)
	require.NoError(t, s.DefineTable(ctx, "t", lastWins))
	origins := []xregion.Region{"a", "b", "c", "d"}
	rng := rand.New(rand.NewPCG(3, 4))
	wall := int64(0)
	for range 200 {
		clock.Advance(time.Duration(rng.IntN(2000)-500) * time.Millisecond)
		var b xregion.Batch
		for range 1 + rng.IntN(5) {
			wall++
			// Mostly a's own writes; d writes only at the start, as a
			// region that then only receives.
			o := origins[rng.IntN(3)]
			if wall < 20 && rng.IntN(4) == 0 {
				o = "d"
			}
			b.Writes = append(b.Writes, xregion.Write{Table: "t", Record: xregion.Record{
				Key: fmt.Sprint("k", rng.IntN(30)), Value: make([]byte, rng.IntN(10)), Version: version(wall, o),
			}})
		}
		_, err := s.Apply(ctx, b)
		require.NoError(t, err)
	}

	all, err := s.Changes(ctx, xregion.ChangeQuery{Limit: xregion.MaxChangeLimit})
	require.NoError(t, err)
	after := []xregion.Position{{}}
	for _, c := range all {
		after = append(after, c.Pos, xregion.Position{Tx: c.Pos.Tx, Index: c.Pos.Index + 1})
	}
	for _, p := range after {
		for _, o := range append(origins, "e") {
			var rest []xregion.Change
			want := xregion.Backlog{}
			for _, c := range all {
				if p.Less(c.Pos) && c.Origin() == o {
					rest = append(rest, c)
					want.Changes++
					want.Bytes += int64(len(c.Record.Key) + len(c.Record.Value))
					if want.Oldest.IsZero() || c.Time.Before(want.Oldest) {
						want.Oldest = c.Time
					}
					want.Head = c.Pos
				}
			}
			got, err := s.Backlog(ctx, p, o)
			require.NoError(t, err)
			want.Now = got.Now
			require.Equal(t, want, got, "Backlog(%s, %s)", p, o)

			for _, limit := range []int{1, 2, 7, 1000} {
				cs, err := s.Changes(ctx, xregion.ChangeQuery{After: p, Origin: o, Limit: limit})
				require.NoError(t, err)
				require.Equal(t, rest[:min(limit, len(rest))], cs, "Changes after %s of %s, limit %d", p, o, limit)
			}
		}
	}
}
