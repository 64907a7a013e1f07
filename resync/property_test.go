package resync_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/testseed"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
)

// TestRun_NothingLost diverges two regions at random, on every strategy
// (last-write-wins with deletes, a CRDT, single writer with a failover
// while the old home goes on writing), then resyncs them, finding the keys
// by the changelogs or by digests alone. Asserted after each run:
//
//   - both regions hold the same record under every key, and Verify agrees;
//   - every write a region acknowledged is kept, or in a ledger (lost to a
//     concurrent write, or fenced: quarantined), or was read by a later
//     write that superseded it;
//   - every increment of every counter counts, once;
//   - a second run moves nothing.
func TestRun_NothingLost(t *testing.T) {
	seed := testseed.Seed(t)
	rounds := map[string]int{"memstore": 60, "pgstore": 6}
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			for i := range rounds[name] {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				a, b := pair(t)
				diverge(t, rng, a, b)
				if t.Failed() {
					t.Fatalf("round %d (seed %d)", i, seed)
				}
			}
		})
	}
}

// history is what the regions acknowledged.
type history struct {
	writes []xregion.Record    // lww and single-writer writes, by table below
	tables []string            // the table of each write
	incs   map[string]uint64   // counter key → total increments
	keys   map[string][]string // table → keys written
}

func (h *history) add(table string, rec xregion.Record) {
	h.writes = append(h.writes, rec)
	h.tables = append(h.tables, table)
	h.keys[table] = append(h.keys[table], rec.Key)
}

func diverge(t *testing.T, rng *rand.Rand, a, b *region) {
	ctx := t.Context()
	h := &history{incs: make(map[string]uint64), keys: make(map[string][]string)}
	key := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(12)) }
	step := func(r *region, allowOrders bool) {
		switch n := rng.IntN(10); {
		case n < 4:
			h.add(lwwTable, r.put(t, key("k"), fmt.Sprintf("%s-%d", r.name, rng.IntN(1000))))
		case n < 5:
			h.add(lwwTable, r.del(t, key("k")))
		case n < 8:
			k, inc := key("c"), uint64(1+rng.IntN(5))
			r.inc(t, k, inc)
			h.incs[k] += inc
		case allowOrders:
			if rec, err := r.order(t, key("o"), fmt.Sprintf("%s-%d", r.name, rng.IntN(1000))); err == nil {
				h.add(ordersTable, rec)
			} else {
				_, notHome := partition.HomeOf(err)
				require.True(t, notHome, "order in %s: %v", r.name, err)
			}
		}
	}

	// Together: a is every partition's home; both write, and ship.
	_, err := a.router.Bootstrap(ctx, func(int) xregion.Region { return a.name })
	require.NoError(t, err)
	ship(t, a, b)
	require.NoError(t, b.router.Refresh(ctx))
	for range 20 + rng.IntN(20) {
		step([]*region{a, b}[rng.IntN(2)], true)
		if rng.IntN(8) == 0 {
			ship(t, a, b)
		}
	}
	ship(t, a, b)

	// Apart: b fails a over (maybe) and serves; a goes on writing, as the
	// home it thinks it is. Now and then one way still gets through.
	b.wall.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
	if rng.IntN(3) > 0 {
		_, err := b.router.Failover(ctx, []int{0, 1, 2, 3}, partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
		require.NoError(t, err)
	}
	for range 10 + rng.IntN(40) {
		step([]*region{a, b}[rng.IntN(2)], true)
		if rng.IntN(15) == 0 {
			_, err := replicateShip(t, []*region{a, b}[rng.IntN(2)], a, b)
			require.NoError(t, err)
		}
	}

	var opts []resync.Option
	if rng.IntN(2) == 0 {
		opts = append(opts, resync.WithDigestsOnly())
	}
	opts = append(opts, resync.WithBatchSize(1+rng.IntN(8)), resync.WithFanout(1+rng.IntN(64)), resync.WithWallClock(after))
	tables := allTablesOf(a, b)
	rep, err := resync.Run(ctx, a.store, b.store, tables, opts...)
	var ve *resync.VerifyError
	if errors.As(err, &ve) { // say what differs before failing
		for _, tv := range ve.V.Tables {
			for _, k := range tv.Differ {
				ra, _ := a.get(t, tv.Table, k)
				rb, _ := b.get(t, tv.Table, k)
				t.Logf("%s %s: a holds %v epoch %d base %v; b holds %v epoch %d base %v", tv.Table, k,
					ra.Version, ra.Epoch, ra.Base, rb.Version, rb.Epoch, rb.Base)
			}
		}
	}
	require.NoError(t, err)
	require.True(t, rep.Verified.Equal())
	require.Zero(t, rep.Applied.Unresolved)

	// Equal, key by key.
	for _, table := range []string{lwwTable, crdtTable, ordersTable, a.router.Table()} {
		for _, k := range append(h.keys[table], keysOf(h.incs)...) {
			ra, okA := a.get(t, table, k)
			rb, okB := b.get(t, table, k)
			require.Equal(t, okA, okB, "%s %s held in one region only", table, k)
			require.True(t, ra.Equal(rb), "%s %s: a holds %v, b holds %v", table, k, ra, rb)
		}
	}
	// Every acknowledged write kept, in a ledger, or superseded.
	lost := make(map[xregion.Version]bool)
	for _, r := range []*region{a, b} {
		ledger, err := r.store.LostUpdates(ctx, 0, xregion.MaxChangeLimit)
		require.NoError(t, err)
		for _, l := range ledger {
			lost[l.Lost.Version] = true
		}
	}
	for i, w := range h.writes {
		held, _ := a.get(t, h.tables[i], w.Key)
		require.True(t, held.Version == w.Version || lost[w.Version] || h.superseded(i),
			"%s %s: the write %s of %s is neither kept, nor in a ledger, nor seen by a later write", h.tables[i], w.Key, w.Version, w.Version.Region)
	}
	for k, n := range h.incs {
		require.Equal(t, n, a.count(t, k), "counter %s", k)
	}

	again, err := resync.Run(ctx, a.store, b.store, tables, opts...)
	require.NoError(t, err)
	require.Zero(t, again.Applied.ToA+again.Applied.ToB, "a second run moves nothing")
	require.Zero(t, again.Applied.Reasserted)
}

// superseded reports whether a later write of the same key had seen the
// i-th write, by the rule of its table's resolver: under last-write-wins a
// writer that read it or any later version (lww's HAZARD: one Base); under
// single writer only one that read it, or a later write of its region
// (partition.Guard's stricter rule, so that fencing loses nothing).
func (h *history) superseded(i int) bool {
	w, table := h.writes[i], h.tables[i]
	for j, x := range h.writes {
		if h.tables[j] != table || x.Key != w.Key || j == i {
			continue
		}
		v := w.Version
		switch {
		case table == lwwTable && x.Base.Compare(v) >= 0:
			return true
		case x.Base == v:
			return true
		case !x.Base.IsZero():
			if x.Base.Region == v.Region && v.Less(x.Base) {
				return true
			}
		case x.Version.Region == v.Region && v.Less(x.Version):
			return true
		}
	}
	return false
}

func keysOf(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// replicateShip ships from's changelog to the other region of the pair.
func replicateShip(t *testing.T, from, a, b *region) (int, error) {
	to := a
	if from == a {
		to = b
	}
	return replicate.Ship(t.Context(), from.store, to.store)
}
