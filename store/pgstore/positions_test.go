package pgstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
)

// A healthy store is never refused: reopened after a restart, on a pool of
// its own, or open twice at once, it writes and ships as before.
func TestNew_HealthyStoreIsNotRefused(t *testing.T) {
	ctx := t.Context()
	dbA, dbB := regiontest.Database(t), regiontest.Database(t)
	a, b := openRegion(t, dbA, "a"), openRegion(t, dbB, "b")
	a.write(t, keyRange("first", 3)...)
	shipAll(t, a, b)

	// A restart: a new pool, a new Store, the same database.
	pool, err := pgxpool.NewWithConfig(ctx, dbA.Config())
	require.NoError(t, err)
	defer pool.Close()
	again := openRegion(t, pool, "a")
	again.write(t, keyRange("restarted", 3)...)
	shipAll(t, again, b)

	// Two processes at once, each writing and shipping.
	other := openRegion(t, dbA, "a")
	var wg sync.WaitGroup
	for i, r := range []*region{again, other} {
		wg.Go(func() {
			for j := range 20 {
				_, err := r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{r.order(t, fmt.Sprintf("both-%d-%02d", i, j))}})
				if !assert.NoError(t, err) {
					return
				}
				_, err = replicate.Ship(ctx, r.store, b.store)
				if !assert.NoError(t, err) {
					return
				}
			}
		})
	}
	wg.Wait()
	shipAll(t, other, b)
	_, err = b.store.Get(ctx, "orders", "both-1-19")
	require.NoError(t, err)
}

// TestStore_PositionsHeldBeyondTheServer builds, in SQL, what a restore
// onto a server that has counted fewer transactions leaves behind: a
// changelog row whose position lies beyond the next the server would give.
// (TestRestore_FromLogicalDump makes it for real, where the programs to
// start a server of its own are at hand.) New opens the store; Apply and
// Changes refuse; Backlog counts; AdvancePositions puts new changes after
// the row, in this process and in another that opened the store before.
func TestStore_PositionsHeldBeyondTheServer(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	a := openRegion(t, pool, "a")
	a.write(t, "old")
	var far int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint + 1000000000`).Scan(&far))
	_, err := pool.Exec(ctx, `INSERT INTO xregion._changelog (tx, idx, tbl, key, value, wall, logical, origin,
			base_wall, base_logical, base_origin, epoch, tombstone)
		SELECT $1, 0, 'orders', 'restored', value, wall + 1, logical, origin, 0, 0, '', 0, false
		FROM xregion._changelog WHERE key = 'old'`, far)
	require.NoError(t, err)

	a = openRegion(t, pool, "a")
	_, err = a.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{a.order(t, "refused")}})
	pe := requirePositionsError(t, err)
	require.True(t, pe.Held)
	require.Equal(t, xregion.Position{Tx: uint64(far)}, pe.Beyond)
	require.Contains(t, err.Error(), "same PostgreSQL cluster", "the cluster did not change")
	_, err = a.store.Changes(ctx, xregion.ChangeQuery{Limit: 10})
	requirePositionsError(t, err)
	bl, err := a.store.Backlog(ctx, xregion.Position{}, "a")
	require.NoError(t, err, "a backlog counted from a position the changelog issued is right")
	require.EqualValues(t, 2, bl.Changes)

	// Reopening changes nothing; advancing does.
	b := openRegion(t, pool, "a")
	_, err = b.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{b.order(t, "refused")}})
	requirePositionsError(t, err)
	first, err := a.store.AdvancePositions(ctx, xregion.Position{})
	require.NoError(t, err)
	require.Equal(t, xregion.Position{Tx: uint64(far) + 1}, first)
	b.write(t, "after")
	a.write(t, "after-too")
	cs := drainAll(t, a.store)
	require.Equal(t, []string{"old", "restored", "after", "after-too"}, changeKeys(cs))
	require.False(t, cs[2].Pos.Less(first))

	// A new store on the same schema is healthy too.
	openRegion(t, pool, "a").write(t, "reopened")
}

// TestStore_WatermarkBeyondTheServer: a peer's watermark beyond what the
// changelog issues, as when the server went back to an earlier point in
// time, or a standby that lagged its primary was promoted; the changelog
// itself looks healthy. Shipping refuses, and ships again after
// AdvancePositions.
func TestStore_WatermarkBeyondTheServer(t *testing.T) {
	ctx := t.Context()
	a, b := openRegion(t, regiontest.Database(t), "a"), openRegion(t, regiontest.Database(t), "b")
	a.write(t, "one")
	shipAll(t, a, b)
	wm, err := b.store.Watermark(ctx, "a")
	require.NoError(t, err)
	ahead := xregion.Position{Tx: wm.Tx + 1_000_000_000, Index: 3}
	_, err = b.store.Apply(ctx, xregion.Batch{From: "a", After: wm, Through: ahead})
	require.NoError(t, err)

	a.write(t, "two")
	n, err := replicate.Ship(ctx, a.store, b.store)
	require.Zero(t, n)
	pe := requirePositionsError(t, err)
	require.False(t, pe.Held)
	require.Equal(t, ahead, pe.Beyond)
	require.Contains(t, err.Error(), "same PostgreSQL cluster")
	_, err = a.store.Backlog(ctx, ahead, "a")
	requirePositionsError(t, err)

	first, err := replicate.AdvancePositions(ctx, a.store, b.store)
	require.NoError(t, err)
	require.Equal(t, xregion.Position{Tx: ahead.Tx + 1}, first)
	a.write(t, "three")
	shipAll(t, a, b)
	_, err = b.store.Get(ctx, "orders", "three")
	require.NoError(t, err)
	_, err = b.store.Get(ctx, "orders", "two")
	require.ErrorIs(t, err, xregion.ErrNotFound, "written before the advance, behind b's watermark: a resync's to bring")
}

// TestStore_AdvancePositions_UnderWrites advances the positions while
// writers commit and a reader tails the changelog: every change is read
// once, in order, and every change of a write begun after the advance
// returned sorts after the position it returned.
func TestStore_AdvancePositions_UnderWrites(t *testing.T) {
	ctx := t.Context()
	a := openRegion(t, regiontest.Database(t), "a")
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		written atomic.Int64
		mu      sync.Mutex
		late    = map[string]bool{} // keys written after the advance returned
		first   xregion.Position
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				mu.Lock()
				after := !first.IsZero()
				mu.Unlock()
				k := fmt.Sprintf("w%d-%04d", w, i)
				_, err := a.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{a.order(t, k)}})
				if !assert.NoError(t, err) {
					return
				}
				written.Add(1)
				if after {
					mu.Lock()
					late[k] = true
					mu.Unlock()
				}
			}
		})
	}
	require.Eventually(t, func() bool { return written.Load() > 50 }, 30*time.Second, time.Millisecond)
	var read []xregion.Change
	var at xregion.Position
	readMore := func() {
		cs, err := a.store.Changes(ctx, xregion.ChangeQuery{After: at, Limit: 1000})
		require.NoError(t, err)
		for _, c := range cs {
			require.True(t, at.Less(c.Pos))
			read, at = append(read, c), c.Pos
		}
	}
	readMore()
	p, err := a.store.AdvancePositions(ctx, xregion.Position{})
	require.NoError(t, err)
	mu.Lock()
	first = p
	mu.Unlock()
	waitFor(t, "writes after the advance", func() bool {
		readMore()
		mu.Lock()
		defer mu.Unlock()
		return len(late) > 50
	})
	stop.Store(true)
	wg.Wait()
	waitFor(t, "every change to be read", func() bool { readMore(); return int64(len(read)) >= written.Load() })
	require.EqualValues(t, written.Load(), len(read), "every change read once")
	seen := map[string]bool{}
	for _, c := range read {
		require.False(t, seen[c.Record.Key], "%s read twice", c.Record.Key)
		seen[c.Record.Key] = true
		if late[c.Record.Key] {
			require.False(t, c.Pos.Less(first), "%s, written after the advance, at %s before %s", c.Record.Key, c.Pos, first)
		}
	}
}

// drainAll reads the whole changelog once no transaction hides a part of it.
func drainAll(t *testing.T, st xregion.Store) []xregion.Change {
	t.Helper()
	var out []xregion.Change
	waitFor(t, "the changelog to be readable", func() bool {
		out = nil
		var at xregion.Position
		for {
			cs, err := st.Changes(t.Context(), xregion.ChangeQuery{After: at, Limit: 1000})
			require.NoError(t, err)
			if len(cs) == 0 {
				break
			}
			out, at = append(out, cs...), cs[len(cs)-1].Pos
		}
		b, err := st.Backlog(t.Context(), at, st.Region())
		require.NoError(t, err)
		return b.Changes == 0
	})
	return out
}

func changeKeys(cs []xregion.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Record.Key
	}
	return out
}
