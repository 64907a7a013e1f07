package kv_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
)

func newIdempotency(t testing.TB, tb *kv.Table) *kv.Idempotency {
	t.Helper()
	i, err := kv.NewIdempotency(tb, "requests")
	require.NoError(t, err)
	return i
}

func seen(t testing.TB, i *kv.Idempotency, key string, window time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := i.Seen(ctx, key, window)
	require.NoError(t, err)
	return s
}

func TestIdempotency_Seen(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		i := newIdempotency(t, a.kv)
		require.False(t, seen(t, i, "req-1", time.Hour), "the first time")
		require.True(t, seen(t, i, "req-1", time.Hour), "again within the window")
		require.False(t, seen(t, i, "req-2", time.Hour), "another key")

		advance(time.Hour, a)
		require.False(t, seen(t, i, "req-1", time.Hour), "after the window: a new record")
		require.True(t, seen(t, i, "req-1", time.Hour))

		require.NoError(t, i.Forget(t.Context(), "req-1"))
		require.False(t, seen(t, i, "req-1", time.Hour), "forgotten")

		_, err := i.Seen(t.Context(), "req-3", 0)
		require.ErrorIs(t, err, xregion.ErrInvalid)
		_, err = kv.NewIdempotency(a.kv, "a/b")
		require.ErrorIs(t, err, xregion.ErrInvalid)
		_, err = kv.NewIdempotency(nil, "requests")
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
}

// TestIdempotency_OnceInARegion: of many calls with one key, from
// goroutines and (on PostgreSQL) from two processes of the region,
// exactly one sees false.
func TestIdempotency_OnceInARegion(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		is := []*kv.Idempotency{newIdempotency(t, a.kv), newIdempotency(t, otherProcess(t, a))}
		for _, key := range []string{"req-1", "req-2", "req-3"} {
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				firsts int
			)
			for n := range 16 {
				wg.Go(func() {
					s, err := is[n%2].Seen(t.Context(), key, time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if !s {
						firsts++
					}
				})
			}
			wg.Wait()
			require.Equal(t, 1, firsts, key)
		}
	})
}

// TestIdempotency_AsyncIsPerRegion shows the limit the package
// documentation states: on a table replicated asynchronously, two regions
// asked about one key before either has the other's record both answer
// false. Once the records meet, both regions keep the same one (the other
// is in the lost-update ledger) and both answer true.
func TestIdempotency_AsyncIsPerRegion(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		rs := open(t, "a", "b")
		a, b := rs[0], rs[1]
		ia, ib := newIdempotency(t, a.kv), newIdempotency(t, b.kv)
		require.False(t, seen(t, ia, "req-1", time.Hour))
		require.False(t, seen(t, ib, "req-1", time.Hour), "b has not received a's record yet")

		ship(t, a, b)
		ship(t, b, a)
		require.Equal(t, raw(t, a, "requests", "req-1"), raw(t, b, "requests", "req-1"))
		require.True(t, seen(t, ia, "req-1", time.Hour))
		require.True(t, seen(t, ib, "req-1", time.Hour))
		require.Len(t, ledger(t, a), 1, "the record that lost, reported")

		// Once a record has arrived, the other region sees it.
		require.False(t, seen(t, ia, "req-2", time.Hour))
		ship(t, a, b)
		require.True(t, seen(t, ib, "req-2", time.Hour))
	})
}

// TestIdempotency_SyncFailover: on a table written through replicate.Sync
// (Tier 1), a key recorded in a before a is lost is seen in b once b has
// taken over (Stager.ApplyStaged), even if the changelog stream had not
// delivered it yet.
func TestIdempotency_SyncFailover(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		rs := open(t, "a", "b")
		a, b := rs[0], rs[1]
		rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithTier(replicate.Tier1))
		require.NoError(t, err)
		t.Cleanup(func() {
			b.dark(false)
			rep.Close()
		})
		ia := newIdempotency(t, newTable(t, a, kv.WithWriter(rep)))
		for _, key := range []string{"req-1", "req-2", "req-3"} {
			require.False(t, seen(t, ia, key, time.Hour))
		}

		b.dark(true) // a is lost: nothing more reaches b
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err = ia.Seen(ctx, "req-4", time.Hour)
		require.Error(t, err, "Strict: without b, nothing is acknowledged")

		_, err = b.store.(xregion.Stager).ApplyStaged(t.Context())
		require.NoError(t, err)
		ib := newIdempotency(t, b.kv)
		for _, key := range []string{"req-1", "req-2", "req-3"} {
			require.True(t, seen(t, ib, key, time.Hour), key)
		}
	})
}

// TestIdempotency_SingleWriter: on a single-writer table every key has one
// home region, and only it records keys: another region is refused with
// the home's name, so two regions never both answer false.
func TestIdempotency_SingleWriter(t *testing.T) {
	ctx := t.Context()
	rs := memRegions(t, "a", "b")
	routers := map[xregion.Region]*partition.Router{}
	is := map[xregion.Region]*kv.Idempotency{}
	for _, r := range rs {
		router, err := partition.New(ctx, r.store, r.clock, 8)
		require.NoError(t, err)
		guard, err := partition.NewGuard(router, newLWW(t, r.clock))
		require.NoError(t, err)
		tb, err := kv.New(ctx, r.store, r.clock, "requests", guard, kv.WithFence(router.Stamp))
		require.NoError(t, err)
		routers[r.name], is[r.name] = router, newIdempotency(t, tb)
	}
	_, err := routers["a"].Bootstrap(ctx, func(int) xregion.Region { return "a" })
	require.NoError(t, err)
	ship(t, rs[0], rs[1])

	_, err = is["b"].Seen(ctx, "req-1", time.Hour)
	var nh *partition.NotHomeError
	require.ErrorAs(t, err, &nh)
	require.Equal(t, xregion.Region("a"), nh.Home)

	require.False(t, seen(t, is["a"], "req-1", time.Hour))
	require.True(t, seen(t, is["a"], "req-1", time.Hour))
}

// TestIdempotency_SyncRace: racing Seen calls through replicate.Sync, one
// winner; the losers' writes, refused in a, are withdrawn from b's stage,
// so b taking over holds the winner's record and never a loser's.
func TestIdempotency_SyncRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		rs := open(t, "a", "b")
		a, b := rs[0], rs[1]
		rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithTier(replicate.Tier1))
		require.NoError(t, err)
		t.Cleanup(func() { rep.Close() })
		ia := newIdempotency(t, newTable(t, a, kv.WithWriter(rep)))
		var (
			wg     sync.WaitGroup
			firsts atomic.Int32
		)
		for range 8 {
			wg.Go(func() {
				if s, err := ia.Seen(t.Context(), "req-1", time.Hour); err != nil {
					t.Error(err)
				} else if !s {
					firsts.Add(1)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), firsts.Load())
		require.NoError(t, rep.Close())

		_, err = b.store.(xregion.Stager).ApplyStaged(t.Context())
		require.NoError(t, err)
		require.Equal(t, raw(t, a, "requests", "req-1"), raw(t, b, "requests", "req-1"))
		require.Empty(t, ledger(t, a))
		require.Empty(t, ledger(t, b))
	})
}
