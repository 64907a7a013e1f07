package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/testseed"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// requireSumsMatch checks that the digests of whole buckets, which the
// sums answer, equal those the index of the hash columns gives, at the
// sums' own grain and coarser.
func requireSumsMatch(t *testing.T, s *pgstore.Store, table, step string) {
	t.Helper()
	ctx := t.Context()
	for _, n := range []int{1, 64, pgstore.SumBuckets} {
		ranges := xregion.AllKeys.Split(n)
		sums, err := s.Digests(ctx, table, ranges)
		require.NoError(t, err)
		index, err := pgstore.IndexDigests(ctx, s, table, ranges)
		require.NoError(t, err)
		require.Equal(t, index, sums, "%s: %d ranges", step, n)
	}
}

// TestStore_Sums_FollowEveryWrite writes a table in every way rows reach
// it (Apply's INSERT, COPY and UPDATE, retention's DELETE, SQL from outside
// the store, with and without session_replication_role = replica, and
// TRUNCATE), and checks after each that the sums give the digests the
// records give.
func TestStore_Sums_FollowEveryWrite(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	require.NoError(t, s.DefineTable(ctx, "t", takeIncoming))
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	table := pgx.Identifier{s.Schema(), "t"}.Sanitize()

	apply := func(records []xregion.Record) {
		t.Helper()
		var b xregion.Batch
		for _, r := range records {
			b.Writes = append(b.Writes, xregion.Write{Table: "t", Record: r})
		}
		_, err := s.Apply(ctx, b)
		require.NoError(t, err)
	}
	records := randomRecords(rng, 2000)
	for i := 0; i < len(records); {
		n := []int{1, 3, 50, 700}[rng.IntN(4)] // VALUES, unnest, COPY
		apply(records[i:min(i+n, len(records))])
		i += n
	}
	requireSumsMatch(t, s, "t", "inserted")

	// Updates, a third of them tombstones, in batches of every size.
	for range 5 {
		var batch []xregion.Record
		for _, r := range records[:1+rng.IntN(len(records))] {
			if rng.IntN(3) == 0 {
				continue
			}
			r.Base, r.Version.Time.WallTime = r.Version, 1<<62+rng.Int64N(1<<60)
			if !r.Base.Time.Less(r.Version.Time) {
				r.Base = xregion.Version{}
			}
			r.Tombstone = rng.IntN(3) == 0
			if r.Tombstone {
				r.Value = nil
			}
			batch = append(batch, r)
		}
		for chunk := range slices.Chunk(batch, 1+rng.IntN(800)) {
			apply(chunk)
		}
	}
	requireSumsMatch(t, s, "t", "updated")

	n, err := s.CollectTombstones(ctx, xregion.Timestamp{WallTime: 1<<63 - 1}, 100_000)
	require.NoError(t, err)
	require.Positive(t, n)
	requireSumsMatch(t, s, "t", "tombstones collected")

	_, err = pool.Exec(ctx, `UPDATE `+table+` SET value = 'outside' WHERE key < 'm'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `DELETE FROM `+table+` WHERE key > 's'`)
	require.NoError(t, err)
	requireSumsMatch(t, s, "t", "written from outside the store")

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET session_replication_role = replica`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE `+table+` SET value = 'written as a replica'`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `RESET session_replication_role`)
	require.NoError(t, err)
	requireSumsMatch(t, s, "t", "written as a replica")

	_, err = pool.Exec(ctx, `TRUNCATE `+table)
	require.NoError(t, err)
	requireSumsMatch(t, s, "t", "truncated")
	apply(records[:100])
	requireSumsMatch(t, s, "t", "written again")
	d, err := s.Digests(ctx, "t", []xregion.KeyRange{xregion.AllKeys})
	require.NoError(t, err)
	require.EqualValues(t, 100, d[0].Count)
}

// sumRows counts the rows of table's sums.
func sumRows(t *testing.T, pool *pgxpool.Pool, s *pgstore.Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM `+
		pgx.Identifier{s.Schema(), pgstore.SumsTable(table)}.Sanitize()).Scan(&n))
	return n
}

// TestStore_Sums_Compact checks that a read of the sums that meets more
// deltas than CompactAbove folds them into a row per bucket at most, and
// that what it reads does not change.
func TestStore_Sums_Compact(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	require.NoError(t, s.DefineTable(ctx, "t", takeIncoming))
	table := pgx.Identifier{s.Schema(), "t"}.Sanitize()
	// One statement per row: a delta each.
	_, err := pool.Exec(ctx, fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
		INSERT INTO %s (key, value, wall, logical, origin, base_wall, base_logical, base_origin, epoch, tombstone)
		VALUES ('k' || i, 'v', 1, 0, 'a', 0, 0, '', 0, false);
		END LOOP; END $$`, pgstore.CompactAbove+1, table))
	require.NoError(t, err)
	require.Greater(t, sumRows(t, pool, s, "t"), pgstore.CompactAbove)

	requireSumsMatch(t, s, "t", "before the fold")
	require.LessOrEqual(t, sumRows(t, pool, s, "t"), pgstore.SumBuckets, "the read folded the deltas")
	requireSumsMatch(t, s, "t", "after the fold")

	_, err = pool.Exec(ctx, `DELETE FROM `+table)
	require.NoError(t, err)
	require.NoError(t, pgstore.CompactSums(ctx, s, "t"))
	require.Zero(t, sumRows(t, pool, s, "t"), "buckets that hold nothing are left out")
}

// TestStore_Sums_ConcurrentWritersAndFolds writes from several connections
// while folds run: no delta is lost or counted twice.
func TestStore_Sums_ConcurrentWritersAndFolds(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	require.NoError(t, s.DefineTable(ctx, "t", takeIncoming))
	seed := testseed.Seed(t)
	records := randomRecords(rand.New(rand.NewPCG(seed, 1)), 1200)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)+2))
			for i := range 60 {
				var b xregion.Batch
				for range 1 + rng.IntN(30) {
					r := records[rng.IntN(len(records))]
					r.Base, r.Version.Time.WallTime = xregion.Version{}, int64(w*1000+i+1)
					b.Writes = append(b.Writes, xregion.Write{Table: "t", Record: r})
				}
				if _, err := s.Apply(ctx, b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	folds := make(chan struct{})
	go func() {
		defer close(folds)
		for ctx.Err() == nil {
			if err := pgstore.CompactSums(ctx, s, "t"); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	cancel()
	<-folds
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireSumsMatch(t, s, "t", "after concurrent writes and folds")
}
