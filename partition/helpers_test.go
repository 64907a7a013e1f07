package partition_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/splitbrain"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/store/memstore"
)

// t0 is the start of every test history.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// accounts is the single-writer table of the tests.
const accounts = "accounts"

// region is one region of a test: a store, the clock that stamps its writes,
// its Router and the Guard of its single-writer table.
type region struct {
	name   xregion.Region
	store  xregion.Store
	wall   *xregion.ManualClock // nil on PostgreSQL regions, whose clocks are regiontest's
	clock  *xregion.Clock
	router *partition.Router
	guard  *partition.Guard
}

// newMemRegion returns a region held in memory whose wall clock reads t0,
// with a Router for n partitions that polls every millisecond.
func newMemRegion(t testing.TB, name xregion.Region, n int, opts ...partition.Option) *region {
	t.Helper()
	wall := xregion.NewManualClock(t0)
	clock, err := xregion.NewClock(wall)
	require.NoError(t, err)
	store, err := memstore.New(name, memstore.WithWallClock(wall))
	require.NoError(t, err)
	r := setupRegion(t, store, clock, n, opts...)
	r.wall = wall
	return r
}

// setupRegion declares the ownership map and the guarded table on store.
func setupRegion(t testing.TB, store xregion.Store, clock *xregion.Clock, n int, opts ...partition.Option) *region {
	t.Helper()
	ctx := context.Background()
	opts = append([]partition.Option{partition.WithPollInterval(time.Millisecond)}, opts...)
	router, err := partition.New(ctx, store, clock, n, opts...)
	require.NoError(t, err)
	inner, err := lww.New(clock)
	require.NoError(t, err)
	guard, err := partition.NewGuard(router, inner)
	require.NoError(t, err)
	require.NoError(t, store.DefineTable(ctx, accounts, guard))
	return &region{name: store.Region(), store: store, clock: clock, router: router, guard: guard}
}

// tick moves a memory region's wall clock on, so each write has a time of
// its own.
func (r *region) tick() {
	if r.wall != nil {
		r.wall.Advance(time.Millisecond)
	}
}

// write makes a read-modify-write of key in r through the Router, as a
// service would: the stored version is the Base, Stamp sets the epoch. It
// returns the record as applied, or Stamp's error.
func (r *region) write(ctx context.Context, t testing.TB, key, value string) (xregion.Record, error) {
	t.Helper()
	r.tick()
	rec := xregion.Record{Key: key, Value: []byte(value)}
	switch held, err := r.store.Get(ctx, accounts, key); {
	case err == nil:
		rec.Base = held.Version
	case !errors.Is(err, xregion.ErrNotFound):
		require.NoError(t, err)
	}
	rec, err := r.router.Stamp(rec)
	if err != nil {
		return rec, err
	}
	require.NoError(t, r.clock.Update(rec.Base.Time))
	rec.Version = xregion.Version{Time: r.clock.Now(), Region: r.name}
	res, err := r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: accounts, Record: rec}}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Applied, "local write of %s in %s", key, r.name)
	return rec, nil
}

// mustWrite is write that must succeed.
func (r *region) mustWrite(ctx context.Context, t testing.TB, key, value string) xregion.Record {
	t.Helper()
	rec, err := r.write(ctx, t, key, value)
	require.NoError(t, err, "write %s in %s", key, r.name)
	return rec
}

// value returns what r holds under key, "" if nothing.
func (r *region) value(ctx context.Context, t testing.TB, key string) string {
	t.Helper()
	rec, err := r.store.Get(ctx, accounts, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return ""
	}
	require.NoError(t, err)
	return string(rec.Value)
}

func stores(rs ...*region) []xregion.Store {
	out := make([]xregion.Store, len(rs))
	for i, r := range rs {
		out[i] = r.store
	}
	return out
}

func all(n int) []int {
	ps := make([]int, n)
	for i := range ps {
		ps[i] = i
	}
	return ps
}

func home(h xregion.Region) func(int) xregion.Region {
	return func(int) xregion.Region { return h }
}

// exchange ships every region's changes to every other until none lacks any.
func exchange(ctx context.Context, rs ...*region) error {
	return splitbrain.Exchange(ctx, stores(rs...)...)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// unwrapAs returns the error of type E in err's chain, failing the test if
// there is none.
func unwrapAs[E error](t testing.TB, err error) E {
	t.Helper()
	var e E
	require.ErrorAs(t, err, &e)
	return e
}

// keyOf returns a key of partition p.
func keyOf(r *partition.Router, p int) string {
	for i := 0; ; i++ {
		if k := fmt.Sprintf("customer-%d", i); r.Partition(k) == p {
			return k
		}
	}
}
