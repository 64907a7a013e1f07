package splitbrain_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/splitbrain"
	"github.com/xregion/xregion/lww"
)

const profiles = "profiles"

// Kinds of write a test history makes.
const (
	readModifyWrite = iota // Base: the version the region holds
	blindWrite             // Base zero
	deleteKey              // a tombstone on the version the region holds
)

// TestSplitBrain_LWW: two and three PostgreSQL regions with skewed clocks
// write the same keys of a last-write-wins table while split, then
// heal. What is asserted, and why exactly that:
//
//  1. Convergence: every region holds the same record for every key (one
//     hash per region), and it is the write with the highest version ever
//     made for the key, as the last-write-wins order promises.
//  2. The ledger lists nothing but concurrent losers: every entry, merged
//     over the regions by (table, key, lost version), is a write the test
//     made, is not what the key holds, and lost to the Winner the entry
//     names, a write the test made that orders after it and whose writer had
//     not seen it, nor it the winner's.
//  3. The ledger misses nothing it can know about: every write that is not
//     the final record is listed, or a write that beat it had seen it (then
//     it was superseded, which is what its writer meant). This is the claim
//     lww makes, and no more: with one Base per record (lww's HAZARD: one
//     Base), a region that meets a concurrent loser only after a write built
//     on the winner takes the loser as seen, and may drop it silently.
//  4. The strong claim where the history makes it hold: on keys that exactly
//     two regions wrote once each, concurrently, and nobody wrote after, the
//     loser is listed in every region's ledger.
func TestSplitBrain_LWW(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d regions", n), func(t *testing.T) { testLWW(t, n) })
	}
}

func testLWW(t *testing.T, regions int) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	nodes := newNodes(t, regions)
	for _, n := range nodes {
		r, err := lww.New(n.clock)
		require.NoError(t, err)
		require.NoError(t, n.store.DefineTable(ctx, profiles, r))
	}
	keys := keyNames("profile", 16)
	strong := keys[:4]

	var history []xregion.Record
	write := func(n *node, key string, kind int) {
		t.Helper()
		rec := xregion.Record{Key: key}
		if kind != blindWrite {
			rec.Base = n.base(ctx, t, profiles, key)
		}
		if kind == deleteKey {
			rec.Tombstone = true
		} else {
			rec.Value = fmt.Appendf(nil, "%s#%d", n.name, len(history))
		}
		rec = n.stamp(t, rec)
		n.apply(ctx, t, profiles, rec)
		history = append(history, rec)
	}

	// Before the split: a creates every key and every region has it.
	for _, k := range keys {
		write(nodes[0], k, readModifyWrite)
	}
	exchange(ctx, t, nodes...)

	// The split: nobody ships. On the strong keys a and b each make
	// one edit; on the others every region writes at random.
	for _, k := range strong {
		write(nodes[0], k, readModifyWrite)
		write(nodes[1], k, readModifyWrite)
	}
	rng := rand.New(rand.NewPCG(7, uint64(regions)))
	kinds := []int{readModifyWrite, readModifyWrite, readModifyWrite, blindWrite, deleteKey}
	for round := range 2 {
		for _, k := range keys[len(strong):] {
			for _, n := range nodes {
				if rng.IntN(3) > round {
					write(n, k, kinds[rng.IntN(len(kinds))])
				}
			}
		}
	}
	if regions == 3 {
		// b and c see each other for a while and build on what they now
		// hold: writes on top of a winner, which is where "one Base"
		// hides losses from a, still split off.
		exchange(ctx, t, nodes[1], nodes[2])
		for _, k := range keys[len(strong):] {
			if rng.IntN(2) == 0 {
				write(nodes[1+rng.IntN(2)], k, readModifyWrite)
			}
		}
	}

	// Heal.
	exchange(ctx, t, nodes...)

	// 1. Convergence, to the highest version.
	requireSameData(ctx, t, nodes, profiles, keys)
	byVersion := map[xregion.Version]xregion.Record{}
	final := map[string]xregion.Record{}
	for _, w := range history {
		byVersion[w.Version] = w
		if final[w.Key].Version.Less(w.Version) {
			final[w.Key] = w
		}
	}
	for _, n := range nodes {
		for _, k := range keys {
			rec, err := n.store.Get(ctx, profiles, k)
			require.NoError(t, err)
			require.True(t, final[k].Equal(rec), "%s %s holds %v, want the highest version %v", n.name, k, rec.Version, final[k].Version)
		}
	}

	// 2. Nothing but concurrent losers.
	listed := map[splitbrain.LostID]bool{}
	perRegion := map[xregion.Region]map[splitbrain.LostID]bool{}
	for _, n := range nodes {
		ledger, err := splitbrain.Ledger(ctx, n.store)
		require.NoError(t, err)
		perRegion[n.name] = map[splitbrain.LostID]bool{}
		for _, l := range ledger {
			require.Equal(t, profiles, l.Table)
			require.Equal(t, n.name, l.Region)
			require.Equal(t, xregion.LostConcurrent, l.Reason)
			lost, ok := byVersion[l.Lost.Version]
			require.True(t, ok, "%s lists %v, which nobody wrote", n.name, l.Lost.Version)
			require.True(t, lost.Equal(l.Lost), "%s lists %v with other contents than written", n.name, l.Lost.Version)
			require.NotEqual(t, final[lost.Key].Version, lost.Version, "%s lists the record every region kept", n.name)
			winner, ok := byVersion[l.Winner]
			require.True(t, ok, "%s names winner %v, which nobody wrote", n.name, l.Winner)
			require.Equal(t, lost.Key, winner.Key)
			require.True(t, lost.Version.Less(winner.Version), "%s: %v listed as losing to the older %v", n.name, lost.Version, winner.Version)
			require.False(t, saw(winner, lost.Version) || saw(lost, winner.Version),
				"%s lists %v as lost to %v, but one writer had seen the other's version", n.name, lost.Version, winner.Version)
			listed[splitbrain.IDOf(l)] = true
			perRegion[n.name][splitbrain.IDOf(l)] = true
		}
	}
	require.NotEmpty(t, listed, "the history has concurrent writes; some must have lost")

	// 3. Every loser listed, or superseded.
	silent := 0
	defer func() {
		t.Logf("%d writes, %d listed as lost, %d superseded silently", len(history), len(listed), silent)
	}()
	for _, w := range history {
		if w.Version == final[w.Key].Version {
			continue
		}
		superseded := slices.ContainsFunc(history, func(m xregion.Record) bool {
			return m.Key == w.Key && w.Version.Less(m.Version) && saw(m, w.Version)
		})
		if !listed[splitbrain.LostID{Table: profiles, Key: w.Key, Version: w.Version}] {
			silent++
		}
		require.True(t, listed[splitbrain.LostID{Table: profiles, Key: w.Key, Version: w.Version}] || superseded,
			"%s %v lost without a trace: not listed, and no write that beat it had seen it", w.Key, w.Version)
	}

	// 4. The strong keys: the loser is in every ledger.
	for _, k := range strong {
		var pair []xregion.Record
		for _, w := range history {
			if w.Key == k && w.Base != (xregion.Version{}) {
				pair = append(pair, w)
			}
		}
		require.Len(t, pair, 2, k)
		loser := pair[0]
		if loser.Version == final[k].Version {
			loser = pair[1]
		}
		for _, n := range nodes {
			require.True(t, perRegion[n.name][splitbrain.LostID{Table: profiles, Key: k, Version: loser.Version}],
				"%s does not list %s's concurrent loser %v", n.name, k, loser.Version)
		}
	}
}

// saw is lww's rule for "the writer of w had seen version v": it had read v
// or a later version, or w is a blind write after v in v's own region.
func saw(w xregion.Record, v xregion.Version) bool {
	return w.Base.Compare(v) >= 0 || w.Base.IsZero() && w.Version.Region == v.Region && v.Less(w.Version)
}
