package regiontest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

func TestDSN(t *testing.T) {
	t.Setenv("XREGION_TEST_PG", "")
	require.Equal(t, regiontest.DefaultDSN, regiontest.DSN())
	t.Setenv("XREGION_TEST_PG", "postgres://someone@db.example:6543/admin")
	require.Equal(t, "postgres://someone@db.example:6543/admin", regiontest.DSN())
}

// databaseExists asks the server at DSN() through a connection of its own.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, regiontest.DSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	return exists
}

func TestDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var name, other string
	var stray *pgx.Conn
	t.Run("during the test", func(t *testing.T) {
		pool := regiontest.Database(t)
		require.NoError(t, pool.QueryRow(ctx, "SELECT current_database()").Scan(&name))
		require.True(t, strings.HasPrefix(name, "xr_test_"), "name %q", name)
		require.True(t, databaseExists(t, name))

		require.NoError(t, regiontest.Database(t).QueryRow(ctx, "SELECT current_database()").Scan(&other))
		require.NotEqual(t, name, other, "each call creates a database of its own")

		_, err := pool.Exec(ctx, "CREATE TABLE kv (k text PRIMARY KEY)")
		require.NoError(t, err, "the pool may create tables in its database")

		// A session the test forgets to close must not keep the database
		// from being dropped.
		stray, err = pgx.ConnectConfig(ctx, pool.Config().ConnConfig)
		require.NoError(t, err)
	})
	if stray != nil {
		defer stray.Close(context.Background())
	}
	if name == "" {
		t.Skip("the subtest was skipped: no PostgreSQL")
	}
	require.False(t, databaseExists(t, name), "dropped at cleanup")
	require.False(t, databaseExists(t, other), "dropped at cleanup")
}

// TestDatabase_Unreachable is not parallel: it sets environment variables.
func TestDatabase_Unreachable(t *testing.T) {
	for _, tc := range []struct {
		name, dsn, ci, require string
		wantFail               bool
	}{
		{name: "skips", dsn: "postgres://u:s3cret@127.0.0.1:1/postgres"},
		{name: "skips/keyword DSN", dsn: "host=127.0.0.1 port=1 user=u password=s3cret dbname=postgres"},
		{name: "fails under CI", dsn: "postgres://u:s3cret@127.0.0.1:1/postgres", ci: "true", wantFail: true},
		{name: "fails when required", dsn: "postgres://u:s3cret@127.0.0.1:1/postgres", require: "1", wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XREGION_TEST_PG", tc.dsn)
			t.Setenv("CI", tc.ci)
			t.Setenv("XREGION_REQUIRE_PG", tc.require)

			for what, fn := range map[string]func(testing.TB){
				"Database": func(tb testing.TB) { regiontest.Database(tb) },
				"New":      func(tb testing.TB) { regiontest.New(tb) },
			} {
				skipped, failed := catch(t, fn).result()
				msg := skipped
				if tc.wantFail {
					require.Empty(t, skipped, what)
					msg = failed
				} else {
					require.Empty(t, failed, what)
				}
				require.NotEmpty(t, msg, "%s neither skipped nor failed", what)
				require.NotContains(t, msg, "\n", "%s: one line", what)
				require.Contains(t, msg, "127.0.0.1", "%s names the server", what)
				require.Contains(t, msg, "XREGION_TEST_PG", "%s says how to point elsewhere", what)
				require.NotContains(t, msg, "s3cret", "%s hides the password", what)
				if tc.wantFail {
					require.Contains(t, msg, "XREGION_REQUIRE_PG", "%s says why it fails instead of skipping", what)
				}
			}
		})
	}
}
