package resync_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
)

// TestRun_TruncatedChangelog: b's retention removed changes a never
// applied (a stayed dark past the limit). The plan says so, finds the keys
// by digests as well, and Apply moves a's watermark past the cut, so that
// shipping from b resumes; a's own unshipped writes are recovered as ever.
func TestRun_TruncatedChangelog(t *testing.T) {
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			a, b := pair(t)
			b.put(t, "shared", "v1")
			ship(t, a, b)

			// a is cut off; both go on.
			unshipped := a.put(t, "from-a", "a's")
			for i := range 10 {
				b.put(t, fmt.Sprintf("k%d", i), "from b")
			}
			visible(t, a, b)
			wm, err := a.store.Watermark(ctx, b.name)
			require.NoError(t, err)
			cs, err := b.store.Changes(ctx, xregion.ChangeQuery{After: wm, Origin: b.name, Limit: 100})
			require.NoError(t, err)
			require.Len(t, cs, 10)
			n, err := b.store.(xregion.Retainer).TruncateChanges(ctx, xregion.Truncation{Origin: b.name, Through: cs[5].Pos, Limit: 100})
			require.NoError(t, err)
			require.Equal(t, 7, n, "the six a lacks, and the one it had")
			_, err = replicate.Ship(ctx, b.store, a.store)
			require.ErrorIs(t, err, xregion.ErrTruncated, "shipping cannot go on")

			tables := tablesOf(a, b)
			p, err := resync.Diff(ctx, a.store, b.store, tables, resync.WithWallClock(after))
			require.NoError(t, err)
			require.Equal(t, "changelogs and digests", p.Source)
			var gap resync.Gap
			for _, g := range p.Gaps {
				if g.From == b.name {
					gap = g
				}
			}
			require.True(t, gap.Truncated)
			require.Equal(t, 4, gap.Changes, "what is left of the gap")
			require.Equal(t, cs[9].Pos, gap.Through)
			require.Equal(t, 10, p.Tables[0].ToA.Records, "every key a lacks, found by digests")
			require.Equal(t, 1, p.Tables[0].ToB.Records)
			require.Equal(t, unshipped.Version, p.Tables[0].Unshipped[0].Version)
			var out bytes.Buffer
			require.NoError(t, p.Print(&out))
			require.Contains(t, out.String(), "retention removed")

			_, err = p.Apply(ctx)
			require.NoError(t, err)
			wm, err = a.store.Watermark(ctx, b.name)
			require.NoError(t, err)
			require.Equal(t, cs[9].Pos, wm, "past the cut")
			b.put(t, "after", "v")
			ship(t, a, b) // fails the test on an error
			v, err := resync.Verify(ctx, a.store, b.store, tables, resync.WithWallClock(after))
			require.NoError(t, err)
			require.True(t, v.Equal())
		})
	}
}
