package resync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/memstore"
)

// The tables of every test: one per strategy that reconciles by resolving
// (single-writer tables have a test of their own).
const (
	lwwTable    = "accounts" // last-write-wins
	crdtTable   = "counts"   // a CRDT: grow-only counters
	ordersTable = "orders"   // single writer: a home region per partition
	partitions  = 4
)

// region is one region of a test: its store, its clock and its resolvers.
type region struct {
	name  xregion.Region
	store xregion.Store
	wall  *xregion.ManualClock
	clock *xregion.Clock
	lww   xregion.Resolver
	crdt  xregion.Resolver
	// The single-writer table's router and guard.
	router *partition.Router
	guard  xregion.Resolver
}

// start is where every region's wall clock starts.
var start = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// after is a clock for resync that reads after every write a test makes,
// so that Verify counts none of them as newer than the resync.
var after = xregion.NewManualClock(start.Add(time.Hour))

func newRegion(t *testing.T, st xregion.Store) *region {
	t.Helper()
	r := &region{name: st.Region(), store: st, wall: xregion.NewManualClock(start)}
	var err error
	r.clock, err = xregion.NewClock(r.wall)
	require.NoError(t, err)
	r.lww, err = lww.New(r.clock)
	require.NoError(t, err)
	r.crdt, err = crdt.NewResolver(r.name, r.clock)
	require.NoError(t, err)
	require.NoError(t, st.DefineTable(t.Context(), lwwTable, r.lww))
	require.NoError(t, st.DefineTable(t.Context(), crdtTable, r.crdt))
	r.router, err = partition.New(t.Context(), st, r.clock, partitions)
	require.NoError(t, err)
	inner, err := lww.New(r.clock)
	require.NoError(t, err)
	r.guard, err = partition.NewGuard(r.router, inner)
	require.NoError(t, err)
	require.NoError(t, st.DefineTable(t.Context(), ordersTable, r.guard))
	return r
}

// memPair returns regions a and b in memory.
func memPair(t *testing.T) (*region, *region) {
	var rs [2]*region
	for i, name := range []xregion.Region{"a", "b"} {
		st, err := memstore.New(name)
		require.NoError(t, err)
		rs[i] = newRegion(t, st)
	}
	return rs[0], rs[1]
}

// pgPair returns regions a and b on PostgreSQL, and b's node: a resync run
// from a reaches b through b's fault proxy.
func pgPair(t *testing.T) (*region, *region, *regiontest.Node) {
	nodes := regiontest.Nodes(t)
	return newRegion(t, nodes[0].Local), newRegion(t, nodes[1].Remote), nodes[1]
}

// tablesOf returns the tables of a and b that resync settles: the
// ownership map first, so that the guards know the current epochs.
func tablesOf(a, b *region) []resync.Table {
	return []resync.Table{
		{Name: lwwTable, A: a.lww, B: b.lww},
		{Name: crdtTable, A: a.crdt, B: b.crdt},
	}
}

// allTablesOf adds the single-writer table and its ownership map, first.
func allTablesOf(a, b *region) []resync.Table {
	reassert := func(ctx context.Context, keys []string) error {
		for _, key := range keys {
			home := a
			if a.router.Route(key).Home == b.name {
				home = b
			}
			if _, err := home.router.Reassert(ctx, ordersTable, key); err != nil {
				return err
			}
		}
		return nil
	}
	return append([]resync.Table{
		{Name: a.router.Table(), A: a.router.Resolver(), B: b.router.Resolver()},
		{Name: ordersTable, A: a.guard, B: b.guard, Reassert: reassert},
	}, tablesOf(a, b)...)
}

// order writes value under key in the single-writer table, through the
// region's router as a service would; the router refuses a region that is
// not the key's home as it knows it.
func (r *region) order(t *testing.T, key, value string) (xregion.Record, error) {
	t.Helper()
	r.tick()
	held, _ := r.get(t, ordersTable, key)
	rec, err := r.router.Stamp(xregion.Record{Key: key, Value: []byte(value), Base: held.Version})
	if err != nil {
		return rec, err
	}
	rec.Version, err = r.clock.Stamp(r.name, held.Version)
	require.NoError(t, err)
	_, err = r.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{{Table: ordersTable, Record: rec}}})
	require.NoError(t, err)
	return rec, nil
}

// get returns what the region holds under key, and false if nothing.
func (r *region) get(t *testing.T, table, key string) (xregion.Record, bool) {
	t.Helper()
	rec, err := r.store.Get(t.Context(), table, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return xregion.Record{}, false
	}
	require.NoError(t, err)
	return rec, true
}

// tick moves the region's wall clock on, so each write is stamped apart.
func (r *region) tick() { r.wall.Advance(time.Microsecond) }

// put writes value under key in the lww table, on what the region holds.
func (r *region) put(t *testing.T, key, value string) xregion.Record {
	t.Helper()
	return r.lwwWrite(t, key, []byte(value), false)
}

// del deletes key from the lww table.
func (r *region) del(t *testing.T, key string) xregion.Record {
	t.Helper()
	return r.lwwWrite(t, key, nil, true)
}

func (r *region) lwwWrite(t *testing.T, key string, value []byte, tombstone bool) xregion.Record {
	t.Helper()
	r.tick()
	held, _ := r.get(t, lwwTable, key)
	v, err := r.clock.Stamp(r.name, held.Version)
	require.NoError(t, err)
	rec := xregion.Record{Key: key, Value: value, Version: v, Base: held.Version, Tombstone: tombstone}
	_, err = r.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{{Table: lwwTable, Record: rec}}})
	require.NoError(t, err)
	return rec
}

// inc adds n to the counter under key in the crdt table.
func (r *region) inc(t *testing.T, key string, n uint64) {
	t.Helper()
	r.tick()
	var c crdt.GCounter
	held, ok := r.get(t, crdtTable, key)
	if ok {
		var err error
		c, err = crdt.DecodeAs[crdt.GCounter](held.Value)
		require.NoError(t, err)
	}
	c, err := c.Inc(r.name, n)
	require.NoError(t, err)
	rec, err := crdt.Write(r.clock, r.name, key, held.Version, c)
	require.NoError(t, err)
	_, err = r.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{{Table: crdtTable, Record: rec}}})
	require.NoError(t, err)
}

// count reads the counter under key.
func (r *region) count(t *testing.T, key string) uint64 {
	t.Helper()
	held, ok := r.get(t, crdtTable, key)
	if !ok {
		return 0
	}
	c, err := crdt.DecodeAs[crdt.GCounter](held.Value)
	require.NoError(t, err)
	return c.Value()
}

// visible waits until every change each region made past the other's
// watermark for it can be read: on PostgreSQL an open transaction anywhere
// on the server (another test's) can hide committed changes for a moment
// (see Store.Changes), and a plan lists only what it can read.
func visible(t *testing.T, a, b *region) {
	t.Helper()
	for _, pair := range [][2]*region{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		after, err := to.store.Watermark(t.Context(), from.name)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			bl, err := from.store.Backlog(t.Context(), after, from.name)
			require.NoError(t, err)
			cs, err := from.store.Changes(t.Context(), xregion.ChangeQuery{After: after, Origin: from.name, Limit: xregion.MaxChangeLimit})
			require.NoError(t, err)
			return int64(len(cs)) == bl.Changes
		}, 30*time.Second, 5*time.Millisecond, "%s's changes never became readable", from.name)
	}
}
