package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// t0 is when every test's wall clocks start.
var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

const table = "state"

// region is one region as a test sees it: its store, a manual wall clock
// under the HLC, and its kv table.
type region struct {
	name   xregion.Region
	store  xregion.Store // what the region's own processes use
	remote xregion.Store // how the other regions reach it: across the network
	dark   func(bool)    // cuts (true) or heals (false) the network to it
	wall   *xregion.ManualClock
	clock  *xregion.Clock
	kv     *kv.Table
	pool   *pgxpool.Pool // the database's, bypassing the proxy; nil for memstores
}

// backend makes regions: in memory, or on PostgreSQL databases.
type backend struct {
	name string
	open func(t *testing.T, names ...xregion.Region) []*region
}

var backends = []backend{{"memstore", memRegions}, {"pgstore", pgRegions}}

// eachBackend runs f on memstores and on PostgreSQL.
func eachBackend(t *testing.T, f func(t *testing.T, open func(t *testing.T, names ...xregion.Region) []*region)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open) })
	}
}

func newClock(t testing.TB, wall xregion.WallClock) *xregion.Clock {
	t.Helper()
	c, err := xregion.NewClock(wall)
	require.NoError(t, err)
	return c
}

func newLWW(t testing.TB, clock *xregion.Clock) *lww.Resolver {
	t.Helper()
	r, err := lww.New(clock)
	require.NoError(t, err)
	return r
}

// memRegions returns regions of memstores, each reached by the others
// through a regiontest.MemLink of its own.
func memRegions(t *testing.T, names ...xregion.Region) []*region {
	t.Helper()
	var out []*region
	for _, n := range names {
		wall := xregion.NewManualClock(t0)
		st, err := memstore.New(n, memstore.WithWallClock(wall))
		require.NoError(t, err)
		link := regiontest.NewMemLink(0)
		r := &region{name: n, store: st, remote: link.Store(st), wall: wall, clock: newClock(t, wall), dark: func(dark bool) {
			if dark {
				link.Blackhole()
			} else {
				link.Heal()
			}
		}}
		r.kv = newTable(t, r)
		out = append(out, r)
	}
	return out
}

// pgRegions returns regions on PostgreSQL databases of their own (see
// regiontest), each reached by the others through its fault proxy.
func pgRegions(t *testing.T, names ...xregion.Region) []*region {
	t.Helper()
	ctx := t.Context()
	var out []*region
	for _, n := range regiontest.Nodes(t, regiontest.WithRegions(names...)) {
		wall := xregion.NewManualClock(t0)
		r := &region{name: n.Name, store: n.Local, remote: n.Remote, pool: n.Direct, wall: wall, clock: newClock(t, wall), dark: func(dark bool) {
			if dark {
				n.Proxy.Blackhole()
			} else {
				n.Proxy.Heal()
			}
		}}
		r.kv = newTable(t, r)
		kr, err := kv.NewResolver(newLWW(t, r.clock))
		require.NoError(t, err)
		require.NoError(t, n.Remote.DefineTable(ctx, table, kr))
		out = append(out, r)
	}
	return out
}

// restart gives the regions fresh clocks starting at start and fresh
// Tables, over the same stores: what a new run of the region's processes
// would have. Tests run cases on one set of databases this way, each from
// a start after the last one's (clocks only move forward).
func restart(t *testing.T, rs []*region, start time.Time) {
	t.Helper()
	for _, r := range rs {
		r.wall = xregion.NewManualClock(start)
		r.clock = newClock(t, r.wall)
		r.kv = newTable(t, r)
		if r.pool != nil {
			kr, err := kv.NewResolver(newLWW(t, r.clock))
			require.NoError(t, err)
			require.NoError(t, r.remote.DefineTable(t.Context(), table, kr))
		}
	}
}

// newTable declares the region's last-write-wins kv table in its store.
func newTable(t testing.TB, r *region, opts ...kv.Option) *kv.Table {
	t.Helper()
	tb, err := kv.New(context.Background(), r.store, r.clock, table, newLWW(t, r.clock), opts...)
	require.NoError(t, err)
	return tb
}

// otherProcess returns a second Table on r's database, as another process
// of the region would have: its own store value, clock and resolver. On
// memstores, where a region's records live in one store value, it is the
// same Table.
func otherProcess(t *testing.T, r *region) *kv.Table {
	t.Helper()
	if r.pool == nil {
		return r.kv
	}
	other, err := pgstore.New(t.Context(), r.pool, r.name)
	require.NoError(t, err)
	wall := xregion.NewManualClock(t0.Add(time.Microsecond)) // its own clock, a little apart
	clock := newClock(t, wall)
	tb, err := kv.New(t.Context(), other, clock, table, newLWW(t, clock))
	require.NoError(t, err)
	return tb
}

// advance moves every region's wall clock by d.
func advance(d time.Duration, rs ...*region) {
	for _, r := range rs {
		r.wall.Advance(d)
	}
}

// ship applies from's changes in to until to lacks none. On PostgreSQL a
// transaction open anywhere on the server hides changes from
// Store.Changes for a moment, so one replicate.Ship may not carry all.
func ship(t testing.TB, from, to *region) {
	t.Helper()
	ctx := t.Context()
	require.Eventually(t, func() bool {
		_, err := replicate.Ship(ctx, from.store, to.store)
		require.NoError(t, err)
		wm, err := to.store.Watermark(ctx, from.name)
		require.NoError(t, err)
		b, err := from.store.Backlog(ctx, wm, from.name)
		require.NoError(t, err)
		return b.Changes == 0
	}, 20*time.Second, 5*time.Millisecond, "%s never received all of %s's changes", to.name, from.name)
}

// raw reads the record under a kv key as the store holds it.
func raw(t testing.TB, r *region, ns, key string) xregion.Record {
	t.Helper()
	rec, err := r.store.Get(t.Context(), table, ns+kv.Separator+key)
	if errors.Is(err, xregion.ErrNotFound) {
		return xregion.Record{}
	}
	require.NoError(t, err)
	return rec
}

// ledger returns r's lost-update ledger.
func ledger(t testing.TB, r *region) []xregion.LostUpdate {
	t.Helper()
	lost, err := r.store.LostUpdates(t.Context(), 0, 1000)
	require.NoError(t, err)
	return lost
}

func mustPut(t testing.TB, tb *kv.Table, ns, key, value string, opts ...kv.WriteOption) kv.Entry {
	t.Helper()
	e, err := tb.Put(t.Context(), ns, key, []byte(value), opts...)
	require.NoError(t, err)
	return e
}

func contains(t testing.TB, tb *kv.Table, ns, key string) bool {
	t.Helper()
	ok, err := tb.Contains(t.Context(), ns, key)
	require.NoError(t, err)
	return ok
}
