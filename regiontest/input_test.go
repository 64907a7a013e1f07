package regiontest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// dsnCase is a DSN holding secrets that no output may show, whether or not
// it parses, and a part that output should keep so the reader knows which
// server was meant.
type dsnCase struct {
	name    string
	dsn     string
	secrets []string
	keep    string
}

// dsnCases puts secrets wherever a DSN can hold them, in both forms, and
// in DSNs too malformed for any parser to say where the password ends. The
// servers listen nowhere (port 1).
var dsnCases = []dsnCase{
	{"url", "postgres://me:s3cret@127.0.0.1:1/postgres?sslmode=disable", []string{"s3cret"}, "127.0.0.1"},
	{"url with a TLS mode", "postgres://me:s3cret@127.0.0.1:1/db?sslmode=require", []string{"s3cret"}, "127.0.0.1"},
	{"url password parameter", "postgres://me@127.0.0.1:1/postgres?password=s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"url sslpassword parameter", "postgres://me@127.0.0.1:1/postgres?sslpassword=s3cret&sslmode=disable", []string{"s3cret"}, "127.0.0.1"},
	{"url encoded parameter name", "postgres://me@127.0.0.1:1/postgres?pass%77ord=s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"postgresql scheme", "postgresql://me:s3cret@127.0.0.1:1/postgres", []string{"s3cret"}, "127.0.0.1"},
	{"keyword", "host=127.0.0.1 port=1 user=me password=s3cret dbname=postgres", []string{"s3cret"}, "127.0.0.1"},
	{"keyword quoted", "host=127.0.0.1 port=1 password='s3cret plus\\' more' dbname=postgres", []string{"s3cret", "plus", "more"}, "127.0.0.1"},
	{"keyword escaped space", `host=127.0.0.1 port=1 password=s3cret\ more`, []string{"s3cret", "more"}, "127.0.0.1"},
	{"keyword spaced", "host=127.0.0.1 port=1 password = s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"keyword sslpassword", "host=127.0.0.1 port=1 sslpassword=s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"keyword upper case", "host=127.0.0.1 port=1 PASSWORD=s3cret", []string{"s3cret"}, "127.0.0.1"},

	// They do not parse.
	{"url bad host", "postgres://me:s3cret@[bad", []string{"s3cret"}, "postgres://"},
	{"url bad port", "postgres://me:s3cret@127.0.0.1:notaport/db", []string{"s3cret"}, "127.0.0.1"},
	{"url space in password", "postgres://me:s3cret more@127.0.0.1:1/db", []string{"s3cret", "more"}, "127.0.0.1"},
	{"url @ and : in password", "postgres://me:p@ss:s3cret@127.0.0.1:1/db", []string{"p@ss", "s3cret"}, "127.0.0.1"},
	{"url bad parameter", "postgres://127.0.0.1:1/db?password=s3cret&sslmode=bogus", []string{"s3cret"}, "127.0.0.1"},
	{"url / in password", "postgres://me:123/s3cret@127.0.0.1:1/db", []string{"s3cret"}, "127.0.0.1"},
	{"url # in password", "postgres://me:123#s3cret@127.0.0.1:1/db", []string{"s3cret"}, "127.0.0.1"},
	{"url ; between parameters", "postgres://127.0.0.1:1/db?sslmode=disable;password=s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"url parameter without =", "postgres://127.0.0.1:1/db?s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"url upper-case scheme", "POSTGRES://me:s3cret@127.0.0.1:1/db", []string{"s3cret"}, "127.0.0.1"},
	{"keyword bad TLS mode", "host=127.0.0.1 port=1 password=s3cret sslmode=bogus", []string{"s3cret"}, "127.0.0.1"},
	{"keyword unterminated quote", "host=127.0.0.1 port=1 password='s3cret more", []string{"s3cret", "more"}, "127.0.0.1"},
	{"keyword without =", "host=127.0.0.1 port=1 password s3cret", []string{"s3cret"}, "127.0.0.1"},
	{"keyword stray word", "host=127.0.0.1 s3cret port=1", []string{"s3cret"}, "127.0.0.1"},
	{"keyword out of step", "host=127.0.0.1 password s3cret =x", []string{"s3cret"}, "127.0.0.1"},
	{"no scheme", "me:s3cret@127.0.0.1:1/db", []string{"s3cret"}, "127.0.0.1"},
}

func TestRedact(t *testing.T) {
	for _, tc := range dsnCases {
		t.Run(tc.name, func(t *testing.T) {
			got := regiontest.Redact(tc.dsn)
			for _, s := range tc.secrets {
				require.NotContains(t, got, s, "Redact(%q) = %q", tc.dsn, got)
			}
			require.Contains(t, got, tc.keep, "Redact(%q) = %q keeps the server", tc.dsn, got)
		})
	}
	require.Equal(t, regiontest.DefaultDSN, regiontest.Redact(regiontest.DefaultDSN), "nothing to hide")
}

// TestParseDSN: the error of a DSN that does not parse names the DSN only as
// Redact shows it. pgx's own message hides passwords only as far as it can
// tell where they end.
func TestParseDSN(t *testing.T) {
	for _, tc := range dsnCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := regiontest.ParseDSN(tc.dsn)
			if err == nil {
				return
			}
			for _, s := range tc.secrets {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
	// pgx would read host "me", port 123 and database "s3cret@127.0.0.1:1/db".
	_, err := regiontest.ParseDSN("postgres://me:123/s3cret@127.0.0.1:1/db")
	require.ErrorContains(t, err, "percent-encode")

	cfg, err := regiontest.ParseDSN("postgres://me:s3cret@db.example:6543/admin")
	require.NoError(t, err)
	require.Equal(t, "s3cret", cfg.ConnConfig.Password)
	require.Equal(t, "db.example", cfg.ConnConfig.Host)
}

// TestDatabase_PasswordHidden: whatever XREGION_TEST_PG holds, the line a
// test skips or fails with shows none of its secrets. Not parallel: it sets
// environment variables.
func TestDatabase_PasswordHidden(t *testing.T) {
	for _, tc := range dsnCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XREGION_TEST_PG", tc.dsn)
			t.Setenv("CI", "")
			t.Setenv("XREGION_REQUIRE_PG", "")
			for what, fn := range map[string]func(testing.TB){
				"Database": func(tb testing.TB) { regiontest.Database(tb) },
				"New":      func(tb testing.TB) { regiontest.New(tb) },
			} {
				skipped, failed := catch(t, fn).result()
				msg := skipped + failed
				require.NotEmpty(t, msg, "%s neither skipped nor failed", what)
				for _, s := range tc.secrets {
					require.NotContains(t, msg, s, "%s shows a secret", what)
				}
			}
		})
	}
}
