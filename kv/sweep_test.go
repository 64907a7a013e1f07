package kv_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
)

func TestTable_Sweep(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()
		var gone []kv.Entry
		for _, k := range []string{"gone1", "gone2", "gone3"} {
			gone = append(gone, mustPut(t, a.kv, "ns", k, "v", kv.TTL(time.Minute)))
		}
		mustPut(t, a.kv, "ns", "fresh", "v", kv.TTL(3*time.Hour))
		mustPut(t, a.kv, "ns", "forever", "v")
		mustPut(t, a.kv, "other", "gone4", "v", kv.TTL(time.Minute))
		advance(30*time.Minute, a)
		recent := mustPut(t, a.kv, "ns", "recent", "v", kv.TTL(time.Minute))
		advance(time.Hour, a) // gone* expired over an hour ago, recent less than an hour ago

		n, err := a.kv.Sweep(ctx, 3)
		require.NoError(t, err)
		require.Equal(t, 3, n, "as many as the limit")
		n, err = a.kv.Sweep(ctx, 3)
		require.NoError(t, err)
		require.Equal(t, 1, n, "then the rest")
		n, err = a.kv.Sweep(ctx, 3)
		require.NoError(t, err)
		require.Zero(t, n, "then none")

		for _, e := range gone {
			rec := raw(t, a, "ns", e.Key)
			require.True(t, rec.Tombstone, e.Key)
			require.Equal(t, e.Version, rec.Base, "each removal is on the expired entry")
		}
		require.True(t, raw(t, a, "other", "gone4").Tombstone, "every namespace is swept")
		for _, k := range []string{"fresh", "forever"} {
			require.True(t, contains(t, a.kv, "ns", k), k)
		}
		require.Equal(t, recent.Version, raw(t, a, "ns", "recent").Version, "expired within the grace: kept for now")

		advance(time.Minute, a)
		n, err = a.kv.Sweep(ctx, 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.True(t, raw(t, a, "ns", "recent").Tombstone)
		require.Empty(t, ledger(t, a))

		for _, limit := range []int{0, kv.MaxSweepLimit + 1} {
			_, err := a.kv.Sweep(ctx, limit)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		}
	})
}

func TestTable_SweepGrace(t *testing.T) {
	a := memRegions(t, "a")[0]
	tb := newTable(t, a, kv.WithSweepGrace(0))
	mustPut(t, tb, "ns", "k", "v", kv.TTL(time.Second))
	advance(time.Second-time.Nanosecond, a)
	n, err := tb.Sweep(t.Context(), 10)
	require.NoError(t, err)
	require.Zero(t, n)
	advance(time.Nanosecond, a)
	n, err = tb.Sweep(t.Context(), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "with no grace, at the expiry instant")
}

// TestTable_SweepRace: a write made to an expired key while the sweep is
// on its way is never removed by it: the sweep's removal is conditional on
// the expired entry, finds the new one, and leaves it.
func TestTable_SweepRace(t *testing.T) {
	a := memRegions(t, "a")[0]
	var tb *kv.Table
	raced := false
	tb = newTable(t, a, kv.WithSweepGrace(0), kv.WithWriter(kv.WriterFunc(func(ctx context.Context, ws ...xregion.Write) error {
		if ws[0].Record.Tombstone && !raced {
			raced = true
			if _, err := tb.Put(ctx, "ns", "k1", []byte("new")); err != nil {
				return err
			}
		}
		_, err := a.store.Apply(ctx, xregion.Batch{Writes: ws})
		return err
	})))
	mustPut(t, tb, "ns", "k1", "old", kv.TTL(time.Second))
	mustPut(t, tb, "ns", "k2", "old", kv.TTL(time.Second))
	advance(time.Minute, a)

	n, err := tb.Sweep(t.Context(), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "k2 only")
	require.True(t, raced)
	e, err := tb.Get(t.Context(), "ns", "k1")
	require.NoError(t, err)
	require.Equal(t, "new", string(e.Value))
	require.True(t, raw(t, a, "ns", "k2").Tombstone)
	require.Empty(t, ledger(t, a))
}

// TestTable_SweepInEveryRegion: two regions sweeping the same expired entry
// write two concurrent deletes; neither is reported lost, and both regions
// end with the same tombstone.
func TestTable_SweepInEveryRegion(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		rs := open(t, "a", "b")
		a, b := rs[0], rs[1]
		mustPut(t, a.kv, "ns", "k", "v", kv.TTL(time.Minute))
		ship(t, a, b)
		advance(2*time.Hour, a, b)
		for _, r := range rs {
			n, err := r.kv.Sweep(t.Context(), 10)
			require.NoError(t, err)
			require.Equal(t, 1, n, r.name)
		}
		ship(t, a, b)
		ship(t, b, a)
		require.Equal(t, raw(t, a, "ns", "k"), raw(t, b, "ns", "k"))
		require.True(t, raw(t, a, "ns", "k").Tombstone)
		require.Empty(t, ledger(t, a))
		require.Empty(t, ledger(t, b))
	})
}
