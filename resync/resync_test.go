package resync_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
)

// pairs are the stores every scenario runs on.
var pairs = map[string]func(t *testing.T) (*region, *region){
	"memstore": memPair,
	"pgstore": func(t *testing.T) (*region, *region) {
		a, b, _ := pgPair(t)
		return a, b
	},
}

// ship exchanges the changelogs of a and b, both ways, until neither lacks
// a change of the other (on PostgreSQL an open transaction elsewhere on the
// server can hide committed changes from a Ship for a moment).
func ship(t *testing.T, a, b *region) {
	t.Helper()
	for _, pair := range [][2]*region{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		require.Eventually(t, func() bool {
			_, err := replicate.Ship(t.Context(), from.store, to.store)
			require.NoError(t, err)
			wm, err := to.store.Watermark(t.Context(), from.name)
			require.NoError(t, err)
			bl, err := from.store.Backlog(t.Context(), wm, from.name)
			require.NoError(t, err)
			return bl.Changes == 0
		}, 30*time.Second, 5*time.Millisecond, "%s never caught up with %s", to.name, from.name)
	}
}

// TestRun_UnshippedWrites: region a takes writes it never ships, is cut
// off, b serves alone, a returns. After Run every write a took is in b, or
// in a ledger with the write that beat it; both regions are equal; the
// watermarks moved past both gaps, so shipping afterwards ships nothing;
// and a second run moves nothing.
func TestRun_UnshippedWrites(t *testing.T) {
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			a, b := pair(t)
			for i := range 10 {
				a.put(t, fmt.Sprintf("k%d", i), "v1")
			}
			a.inc(t, "c", 1)
			ship(t, a, b)

			// a goes on alone: none of this reaches b.
			var unshipped []xregion.Record
			for i := 10; i < 15; i++ {
				unshipped = append(unshipped, a.put(t, fmt.Sprintf("k%d", i), "from a"))
			}
			lostA := a.put(t, "k0", "a's edit")
			unshipped = append(unshipped, lostA, a.del(t, "k1"))
			a.inc(t, "c", 2)

			// b serves in a's place, later.
			b.wall.Advance(time.Millisecond)
			for i := 20; i < 25; i++ {
				b.put(t, fmt.Sprintf("k%d", i), "from b")
			}
			winB := b.put(t, "k0", "b's edit")
			b.put(t, "k2", "b's edit")
			b.inc(t, "c", 5)

			tables := tablesOf(a, b)
			visible(t, a, b)
			plan, err := resync.Diff(ctx, a.store, b.store, tables)
			require.NoError(t, err)
			require.Equal(t, "changelogs", plan.Source)
			accounts := plan.Tables[0]
			require.Equal(t, 13, accounts.Differ, "k0, k1, k2, k10-k14, k20-k24")
			require.Equal(t, 6, accounts.ToB.Records, "k1's tombstone and k10-k14; a's k0 loses and stays in a's ledger")
			require.Equal(t, 7, accounts.ToA.Records, "k0, k2, k20-k24")
			require.Equal(t, []resync.Conflict{{Key: "k0", Lost: lostA.Version, Winner: winB.Version, Region: "a"}}, accounts.Conflicts)
			outcomes := make(map[string]resync.Outcome)
			for _, u := range accounts.Unshipped {
				if u.Region == "a" {
					outcomes[u.Key] = u.Outcome
				}
			}
			applied := resync.OutcomeApplied
			require.Equal(t, map[string]resync.Outcome{"k0": resync.OutcomeLost, "k1": applied, "k10": applied, "k11": applied,
				"k12": applied, "k13": applied, "k14": applied}, outcomes)
			counts := plan.Tables[1]
			require.Equal(t, 1, counts.Differ)
			require.Equal(t, 1, counts.ToA.Records, "a merge moves both ways")
			require.Equal(t, 1, counts.ToB.Records)

			rep, err := resync.Run(ctx, a.store, b.store, tables, resync.WithWallClock(after))
			require.NoError(t, err)
			require.Nil(t, rep.Repair, "the changelogs covered everything")
			require.True(t, rep.Verified.Equal())
			require.Equal(t, 2, rep.Applied.Watermarks)

			for _, w := range unshipped {
				got, ok := b.get(t, lwwTable, w.Key)
				require.True(t, ok, w.Key)
				if w.Key == "k0" {
					require.Equal(t, winB.Version, got.Version)
					continue
				}
				require.Equal(t, w.Version, got.Version, w.Key)
			}
			ledger, err := a.store.LostUpdates(ctx, 0, 100)
			require.NoError(t, err)
			require.Len(t, ledger, 1)
			require.Equal(t, lostA.Version, ledger[0].Lost.Version)
			require.Equal(t, winB.Version, ledger[0].Winner)
			require.EqualValues(t, 8, a.count(t, "c"))
			require.EqualValues(t, 8, b.count(t, "c"))

			n, err := replicate.Ship(ctx, a.store, b.store)
			require.NoError(t, err)
			require.Zero(t, n, "a → b: the gap is not shipped again")
			// b → a carries only the counter b merged, which carries b's
			// version: a holds it already.
			ship(t, a, b)
			require.EqualValues(t, 8, a.count(t, "c"))
			again, err := resync.Run(ctx, a.store, b.store, tables, resync.WithWallClock(after))
			require.NoError(t, err)
			require.Equal(t, resync.Applied{}, again.Applied, "a second run moves nothing")
			for _, tp := range again.Plan.Tables {
				require.Zero(t, tp.Differ)
			}
		})
	}
}

func TestPlan_Print(t *testing.T) {
	a, b := memPair(t)
	a.put(t, "k1", "v")
	b.wall.Advance(time.Millisecond)
	b.put(t, "k1", "w")
	plan, err := resync.Diff(t.Context(), a.store, b.store, tablesOf(a, b))
	require.NoError(t, err)
	var out strings.Builder
	require.NoError(t, plan.Print(&out))
	t.Log("\n" + out.String())
	require.Contains(t, out.String(), "resync plan: a (returning) and b, keys found by changelogs")
	require.Contains(t, out.String(), `unshipped  accounts "k1" written in a`)
	require.Contains(t, out.String(), `conflict   accounts "k1"`)
	js, err := json.Marshal(plan)
	require.NoError(t, err)
	require.Contains(t, string(js), `"reason":"concurrent"`)
	require.Contains(t, string(js), `"to_a":{"records":1`)
}

// TestVerify checks any two regions at any time: it lists the keys that
// differ, and counts as newer, not as a difference, a write stamped after
// Since that replication may still be carrying, unless its clock runs
// further ahead than clocks may drift.
func TestVerify(t *testing.T) {
	a, b := memPair(t)
	verifier := xregion.NewManualClock(start.Add(time.Second))
	a.put(t, "k1", "old") // before Since: a difference
	a.wall.Advance(time.Second)
	a.put(t, "k2", "new") // after Since: on its way
	a.wall.Advance(time.Hour)
	a.put(t, "k3", "from the future") // after Since, but an hour ahead
	b.put(t, "k4", "same")
	a.put(t, "k4", "same") // both hold a k4, with different versions

	v, err := resync.Verify(t.Context(), a.store, b.store, tablesOf(a, b),
		resync.WithWallClock(verifier), resync.WithSince(start.Add(time.Millisecond)))
	var ve *resync.VerifyError
	require.ErrorAs(t, err, &ve)
	require.ErrorIs(t, err, resync.ErrNotEqual)
	require.Same(t, v, ve.V)
	require.False(t, v.Equal())
	accounts := v.Tables[0]
	require.ElementsMatch(t, []string{"k1", "k3", "k4"}, accounts.Differ)
	require.Equal(t, []string{"k2"}, accounts.Newer)
	require.Contains(t, err.Error(), "table accounts: 3 keys")

	b.wall.Set(a.wall.Now()) // b's resolver refuses versions further ahead than its clock drifts
	_, err = resync.Run(t.Context(), a.store, b.store, tablesOf(a, b), resync.WithWallClock(xregion.NewManualClock(start.Add(2*time.Hour))))
	require.NoError(t, err)
	v, err = resync.Verify(t.Context(), a.store, b.store, tablesOf(a, b))
	require.NoError(t, err)
	require.True(t, v.Equal())
	require.EqualValues(t, 4, v.Tables[0].Compared)
}

// TestBadInput: clear errors, nothing done.
func TestBadInput(t *testing.T) {
	a, b := memPair(t)
	ctx := t.Context()
	tables := tablesOf(a, b)
	for name, err := range map[string]error{
		"no tables": func() error { _, err := resync.Diff(ctx, a.store, b.store, nil); return err }(),
		"nil resolver": func() error {
			_, err := resync.Diff(ctx, a.store, b.store, []resync.Table{{Name: "x", A: a.lww}})
			return err
		}(),
		"twice":      func() error { _, err := resync.Diff(ctx, a.store, b.store, append(tables, tables[0])); return err }(),
		"one region": func() error { _, err := resync.Diff(ctx, a.store, a.store, tables); return err }(),
		"nil store":  func() error { _, err := resync.Verify(ctx, a.store, nil, tables); return err }(),
		"batch size": func() error { _, err := resync.Run(ctx, a.store, b.store, tables, resync.WithBatchSize(0)); return err }(),
		"fanout": func() error {
			_, err := resync.Diff(ctx, a.store, b.store, tables, resync.WithFanout(1<<20))
			return err
		}(),
		"nil clock": func() error {
			_, err := resync.Diff(ctx, a.store, b.store, tables, resync.WithWallClock(nil))
			return err
		}(),
		"unknown table": func() error {
			_, err := resync.Diff(ctx, a.store, b.store, []resync.Table{{Name: "nope", A: a.lww, B: b.lww}}, resync.WithDigestsOnly())
			return err
		}(),
	} {
		if name == "unknown table" {
			require.ErrorIs(t, err, xregion.ErrUnknownTable, name)
			continue
		}
		require.ErrorIs(t, err, xregion.ErrInvalid, name)
	}
	_, err := resync.Diff(ctx, a.store, noDigests{b.store}, tables)
	require.ErrorIs(t, err, resync.ErrNoDigests)

	a.put(t, "k", "v")
	_, err = resync.Diff(ctx, a.store, b.store, tables[1:])
	require.ErrorIs(t, err, resync.ErrUncoveredTable, "a's gap holds the accounts table, which was not given")
}

// noDigests is a store without the Digester capability.
type noDigests struct{ xregion.Store }

// TestRun_Progress: a long run reports, per phase and table, how far it
// has come, the records it moved, and an estimate of the time left.
func TestRun_Progress(t *testing.T) {
	a, b := memPair(t)
	for i := range 200 {
		a.put(t, fmt.Sprintf("k%03d", i), "v")
	}
	clock := xregion.NewManualClock(start.Add(time.Hour))
	var seen []resync.Progress
	_, err := resync.Run(t.Context(), a.store, b.store, tablesOf(a, b), resync.WithWallClock(clock), resync.WithBatchSize(10),
		resync.WithProgress(func(p resync.Progress) {
			clock.Advance(time.Second) // each step takes a second
			seen = append(seen, p)
		}))
	require.NoError(t, err)
	phases := make(map[string]bool)
	var last resync.Progress
	for _, p := range seen {
		phases[p.Phase] = true
		require.LessOrEqual(t, p.Done, max(p.Total, p.Done), "%+v", p)
		if p.Phase == "apply" && p.Table == lwwTable {
			last = p
		}
	}
	require.Equal(t, map[string]bool{"plan": true, "apply": true, "verify": true}, phases)
	require.EqualValues(t, 200, last.Done)
	require.EqualValues(t, 200, last.Total)
	require.EqualValues(t, 200, last.Moved)
	var mid resync.Progress
	for _, p := range seen {
		if p.Phase == "apply" && p.Done == 100 {
			mid = p
		}
	}
	require.Positive(t, mid.Elapsed)
	require.InDelta(t, float64(mid.Elapsed), float64(mid.ETA), float64(2*time.Second), "half done: as long again to go")
}

// TestApply_Watermarks checks that each region's watermark moves past the
// gap it lacked with its last batch, and that a plan applied after
// replication shipped a gap meanwhile still applies, leaves that watermark
// where replication put it, and leaves the regions equal.
func TestApply_Watermarks(t *testing.T) {
	ctx := t.Context()
	for _, shipped := range []bool{false, true} {
		t.Run(fmt.Sprintf("shipped meanwhile %t", shipped), func(t *testing.T) {
			a, b := memPair(t)
			a.put(t, "from a", "1")
			b.put(t, "from b", "2")
			a.inc(t, "n", 1)
			b.inc(t, "n", 2)
			p, err := resync.Diff(ctx, a.store, b.store, tablesOf(a, b), resync.WithWallClock(after))
			require.NoError(t, err)
			require.Len(t, p.Gaps, 2)
			if shipped {
				_, err := replicate.Ship(ctx, a.store, b.store)
				require.NoError(t, err)
			}
			done, err := p.Apply(ctx)
			require.NoError(t, err)
			if shipped {
				require.Equal(t, 1, done.Watermarks, "replication moved b's")
			} else {
				require.Equal(t, 2, done.Watermarks)
			}
			for _, g := range p.Gaps {
				to := a.store
				if g.To == b.name {
					to = b.store
				}
				wm, err := to.Watermark(ctx, g.From)
				require.NoError(t, err)
				require.Equal(t, g.Through, wm, "%s's watermark for %s", g.To, g.From)
			}
			_, err = resync.Verify(ctx, a.store, b.store, tablesOf(a, b), resync.WithWallClock(after))
			require.NoError(t, err)
			require.EqualValues(t, 3, a.count(t, "n"))
			require.EqualValues(t, 3, b.count(t, "n"))
			again, err := resync.Diff(ctx, a.store, b.store, tablesOf(a, b), resync.WithWallClock(after))
			require.NoError(t, err)
			for _, tp := range again.Tables {
				require.Zero(t, tp.Differ, "table %s: nothing differs on a second look", tp.Table)
			}
			for _, g := range again.Gaps { // the merges' own versions, still to ship
				for _, old := range p.Gaps {
					if old.From == g.From {
						require.Equal(t, old.Through, g.After, "%s's gap is not read again", g.From)
					}
				}
			}
		})
	}
}
