package pgstore_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// naiveBacklog is Backlog as one aggregate over every change after the
// position: the reference the spans are checked against.
func naiveBacklog(t *testing.T, pool *pgxpool.Pool, schema string, after xregion.Position, origin xregion.Region) xregion.Backlog {
	t.Helper()
	var (
		b       xregion.Backlog
		old     *time.Time
		htx     int64
		hidx    int32
		changes = pgx.Identifier{schema, "_changelog"}.Sanitize()
	)
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*), coalesce(sum(octet_length(key) + coalesce(octet_length(value), 0)), 0), min(at),
			coalesce((SELECT tx FROM `+changes+` WHERE origin = $3 AND (tx, idx) > ($1, $2) ORDER BY tx DESC, idx DESC LIMIT 1), 0),
			coalesce((SELECT idx FROM `+changes+` WHERE origin = $3 AND (tx, idx) > ($1, $2) ORDER BY tx DESC, idx DESC LIMIT 1), 0)
		FROM `+changes+` WHERE origin = $3 AND (tx, idx) > ($1, $2)`,
		int64(after.Tx), int32(after.Index), string(origin)).Scan(&b.Changes, &b.Bytes, &old, &htx, &hidx))
	if old != nil {
		b.Oldest = *old
	}
	b.Head = xregion.Position{Tx: uint64(htx), Index: uint32(hidx)}
	return b
}

// positions returns every position in the changelog, in order, and for
// each a position just after it that no change has.
func positions(t *testing.T, pool *pgxpool.Pool, schema string) []xregion.Position {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT tx, idx FROM `+pgx.Identifier{schema, "_changelog"}.Sanitize()+` ORDER BY tx, idx`)
	require.NoError(t, err)
	var (
		out  []xregion.Position
		tx   int64
		idx  int32
		last xregion.Position
	)
	_, err = pgx.ForEachRow(rows, []any{&tx, &idx}, func() error {
		p := xregion.Position{Tx: uint64(tx), Index: uint32(idx)}
		if !last.IsZero() && last.Tx != p.Tx {
			out = append(out, xregion.Position{Tx: last.Tx, Index: last.Index + 1})
		}
		out, last = append(out, p), p
		return nil
	})
	require.NoError(t, err)
	return out
}

// requireSpansSound checks that no two spans of an origin overlap and that
// each counts exactly the changes in its range.
func requireSpansSound(t *testing.T, pool *pgxpool.Pool, schema string) int {
	t.Helper()
	spans := pgx.Identifier{schema, "_changelog_spans"}.Sanitize()
	changes := pgx.Identifier{schema, "_changelog"}.Sanitize()
	var overlaps, wrong, n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT
			(SELECT count(*) FROM `+spans+` a JOIN `+spans+` b ON a.origin = b.origin AND a.lo < b.lo AND b.lo < a.hi),
			(SELECT count(*) FROM `+spans+` s, LATERAL (
				SELECT count(*) AS n, coalesce(sum(octet_length(key) + coalesce(octet_length(value), 0)), 0) AS b, min(at) AS m,
					max(ARRAY[tx, idx]) AS h
				FROM `+changes+` c WHERE c.origin = s.origin AND c.tx >= s.lo AND c.tx < s.hi) AS c
			 WHERE c.n <> s.changes OR c.b <> s.bytes OR c.m IS DISTINCT FROM s.oldest OR c.h IS DISTINCT FROM ARRAY[s.head_tx, s.head_idx]),
			(SELECT count(*) FROM `+spans+`)`).Scan(&overlaps, &wrong, &n))
	require.Zero(t, overlaps, "overlapping spans")
	require.Zero(t, wrong, "spans that miscount their range")
	return n
}

// randomBatch returns a batch of 1 to 6 writes: local ones of region a, or
// a peer batch from b holding writes of b and, relayed, of c.
func randomBatch(rng *rand.Rand, seq *int) xregion.Batch {
	var b xregion.Batch
	origins := []xregion.Region{"a"}
	if rng.IntN(3) == 0 {
		b.From, origins = "b", []xregion.Region{"b", "c"}
	}
	for range 1 + rng.IntN(6) {
		*seq++
		b.Writes = append(b.Writes, xregion.Write{Table: "orders", Record: xregion.Record{
			Key: fmt.Sprintf("k%d", rng.IntN(50)), Value: make([]byte, rng.IntN(20)),
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: int64(*seq)}, Region: origins[rng.IntN(len(origins))]},
		}})
	}
	return b
}

// TestStore_Backlog_Spans checks Backlog against a plain count over the
// changelog from every position, with spans of a few changes cut as it
// goes, and the spans themselves.
func TestStore_Backlog_Spans(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	pgstore.SmallSpans(s, 3, 5)
	require.NoError(t, s.DefineTable(ctx, "orders", takeIncoming))
	rng := rand.New(rand.NewPCG(1, 2))
	seq := 0
	for round := range 4 {
		for range 15 {
			_, err := s.Apply(ctx, randomBatch(rng, &seq))
			require.NoError(t, err)
		}
		all := append([]xregion.Position{{}}, positions(t, pool, s.Schema())...)
		// From a random place each time, so spans are cut from many
		// positions and leave gaps between them.
		for _, i := range rng.Perm(len(all)) {
			for _, origin := range []xregion.Region{"a", "b", "c", "d"} {
				want := naiveBacklog(t, pool, s.Schema(), all[i], origin)
				got, err := s.Backlog(ctx, all[i], origin)
				require.NoError(t, err)
				require.False(t, got.Now.IsZero())
				got.Now = time.Time{}
				require.Equal(t, want, got, "round %d, origin %s, after %s", round, origin, all[i])
			}
		}
		require.Positive(t, requireSpansSound(t, pool, s.Schema()), "round %d cut no spans", round)
	}
}

// TestStore_Backlog_SpansConcurrent has writers and several processes'
// lag trackers at work at once: the spans they cut never overlap, and
// every Backlog agrees with a plain count once the writers stop.
func TestStore_Backlog_SpansConcurrent(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	first := newStore(t, pool, "a")
	stores := []*pgstore.Store{first}
	for range 2 {
		s, err := pgstore.New(ctx, pool, "a", pgstore.WithSchema(first.Schema()))
		require.NoError(t, err)
		stores = append(stores, s)
	}
	for _, s := range stores {
		pgstore.SmallSpans(s, 4, 8)
		require.NoError(t, s.DefineTable(ctx, "orders", takeIncoming))
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		done = make(chan struct{})
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			seq := w * 1_000_000
			for range 60 {
				if _, err := stores[w].Apply(ctx, randomBatch(rng, &seq)); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	for r, s := range stores {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for {
				select {
				case <-done:
					return
				default:
				}
				// Far back, as a dark peer's watermark stands, or from the start.
				after := xregion.Position{Tx: uint64(rng.IntN(2)) * 3}
				if _, err := s.Backlog(ctx, after, []xregion.Region{"a", "b", "c"}[rng.IntN(3)]); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(done)
	wg.Wait()
	require.Empty(t, errs)

	require.Positive(t, requireSpansSound(t, pool, first.Schema()), "no spans were cut")
	all := append([]xregion.Position{{}}, positions(t, pool, first.Schema())...)
	for _, p := range all {
		for _, origin := range []xregion.Region{"a", "b", "c"} {
			got, err := first.Backlog(ctx, p, origin)
			require.NoError(t, err)
			got.Now = time.Time{}
			require.Equal(t, naiveBacklog(t, pool, first.Schema(), p, origin), got, "origin %s, after %s", origin, p)
		}
	}
}

// TestNew_IndexesOrigins: a changelog made before the origin index gets it
// from New, and an invalid one (a failed CREATE INDEX CONCURRENTLY) is
// built again.
func TestNew_IndexesOrigins(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	index := pgx.Identifier{s.Schema(), "_changelog_origin"}.Sanitize()
	valid := func() *bool {
		var v *bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1))`, index).Scan(&v))
		return v
	}
	require.NotNil(t, valid())
	require.True(t, *valid())
	reopen := func() {
		_, err := pgstore.New(ctx, pool, "a", pgstore.WithSchema(s.Schema()))
		require.NoError(t, err)
	}

	_, err := pool.Exec(ctx, `DROP INDEX `+index)
	require.NoError(t, err)
	require.Nil(t, valid())
	reopen()
	require.NotNil(t, valid(), "New creates the missing index")
	require.True(t, *valid())

	// A unique index over duplicates fails, and CONCURRENTLY leaves it
	// behind, invalid.
	require.NoError(t, s.DefineTable(ctx, "orders", takeIncoming))
	for _, k := range []string{"k1", "k2"} {
		_, err := s.Apply(ctx, write(k, 1))
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `DROP INDEX `+index)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY _changelog_origin ON `+pgx.Identifier{s.Schema(), "_changelog"}.Sanitize()+` (origin)`)
	require.Error(t, err)
	require.NotNil(t, valid())
	require.False(t, *valid())
	reopen()
	require.True(t, *valid(), "New builds an invalid index again")
}
