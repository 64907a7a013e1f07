package regiontest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// A server of the test's own counts its transactions from the start and
// is another cluster; DumpRestore carries a database over to it.
func TestNewServer_DumpRestore(t *testing.T) {
	ctx := context.Background()
	src := regiontest.Database(t)
	srv := regiontest.NewServer(t)
	dst := srv.Database(t)
	_, err := src.Exec(ctx, `CREATE TABLE t (k text PRIMARY KEY, v int); INSERT INTO t VALUES ('a', 1), ('b', 2)`)
	require.NoError(t, err)
	regiontest.DumpRestore(t, src, dst)

	var n, sum int
	require.NoError(t, dst.QueryRow(ctx, `SELECT count(*), sum(v) FROM t`).Scan(&n, &sum))
	require.Equal(t, 2, n)
	require.Equal(t, 3, sum)

	var srcID, dstID string
	var xid int64
	require.NoError(t, src.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&srcID))
	require.NoError(t, dst.QueryRow(ctx, `SELECT system_identifier::text, pg_current_xact_id()::text::bigint FROM pg_control_system()`).Scan(&dstID, &xid))
	require.NotEqual(t, srcID, dstID, "another cluster")
	require.Less(t, xid, int64(10_000), "a new cluster's transaction ids start again")
}
