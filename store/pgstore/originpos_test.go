package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// A changelog made before changes kept their origin's positions gets the
// columns when New opens it, its old changes with none (zero); and a
// store that has them opens without altering the table, which would lock
// it against every writer.
func TestNew_AddsOriginPositions(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "b")
	require.NoError(t, s.DefineTable(ctx, "orders", takeIncoming))
	changelog := pgx.Identifier{s.Schema(), "_changelog"}.Sanitize()
	_, err := pool.Exec(ctx, `ALTER TABLE `+changelog+` DROP COLUMN origin_tx, DROP COLUMN origin_idx`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+changelog+` (idx, tbl, key, value, wall, logical, origin, base_wall, base_logical, base_origin, epoch, tombstone)
		VALUES (0, 'orders', 'old', 'v', 1, 0, 'a', 0, 0, '', 0, false)`)
	require.NoError(t, err)

	again, err := pgstore.New(ctx, pool, "b", pgstore.WithSchema(s.Schema()))
	require.NoError(t, err)
	require.NoError(t, again.DefineTable(ctx, "orders", takeIncoming))
	_, err = again.Apply(ctx, xregion.Batch{From: "a", Through: xregion.Position{Tx: 7, Index: 0}, Writes: []xregion.Write{
		{Table: "orders", Record: xregion.Record{Key: "new", Value: []byte("v"), Version: xregion.Version{Time: xregion.Timestamp{WallTime: 2}, Region: "a"}},
			Pos: xregion.Position{Tx: 7, Index: 0}}}})
	require.NoError(t, err)
	var got []xregion.Change
	require.Eventually(t, func() bool {
		got, err = again.Changes(ctx, xregion.ChangeQuery{Origin: "a", Limit: 10})
		require.NoError(t, err)
		return len(got) == 2
	}, 20*time.Second, 10*time.Millisecond)
	require.True(t, got[0].OriginPos.IsZero(), "an old change has no known place")
	require.Equal(t, xregion.Position{Tx: 7, Index: 0}, got[1].OriginPos)

	// Opening again while a transaction holds the changelog shared: an
	// ALTER would wait for it.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `LOCK TABLE `+changelog+` IN ACCESS SHARE MODE`)
	require.NoError(t, err)
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = pgstore.New(octx, pool, "b", pgstore.WithSchema(s.Schema()))
	require.NoError(t, err, "opening a store that has the columns alters nothing")
}
