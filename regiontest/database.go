package regiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultDSN is the PostgreSQL server tests use when XREGION_TEST_PG is not
// set: a local server with trust authentication, as in the repository's
// development setup.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres"

// Pool settings for every pool this package opens.
const (
	// MaxConns is the size of each pool. Small on purpose: tests of many
	// packages run in parallel, each with several regions and two pools per
	// region, against one server (PostgreSQL allows 100 connections by
	// default).
	MaxConns = 8

	// ConnectTimeout bounds each new connection, dial and handshake, unless
	// the DSN sets connect_timeout. It is what makes a connection attempt
	// through a blackholed Proxy fail instead of hanging; a query's own
	// context deadline still ends the wait earlier.
	ConnectTimeout = 5 * time.Second

	// adminTimeout bounds each administrative step: connecting, creating or
	// dropping a database.
	adminTimeout = 30 * time.Second

	envDSN      = "XREGION_TEST_PG"
	envRequire  = "XREGION_REQUIRE_PG"
	envCI       = "CI"
	dbPrefix    = "xr_test_"
	dbRandBytes = 8
)

// DSN returns the PostgreSQL connection string tests use: XREGION_TEST_PG if
// set, else DefaultDSN. It names an existing database to connect to for
// administration (creating and dropping the test databases), normally
// "postgres"; its user must be allowed to create databases.
func DSN() string {
	if s := os.Getenv(envDSN); s != "" {
		return s
	}
	return DefaultDSN
}

// Database creates a fresh, uniquely named database ("xr_test_" and random
// hex) on the server at DSN() and returns a pool connected to it directly,
// with MaxConns connections at most. At cleanup it closes the pool and drops
// the database, ending any session still connected to it.
//
// When the server cannot be reached it skips the test with one line naming
// the DSN (password hidden) and XREGION_TEST_PG, unless CI=true or
// XREGION_REQUIRE_PG=1, in which case it fails the test. Call it from the
// test's goroutine: it may end the test.
func Database(t testing.TB) *pgxpool.Pool {
	t.Helper()
	s := serverFromEnv()
	name := s.createDatabase(t)
	return openPool(t, s.poolConfig(t, name))
}

// server is the PostgreSQL server the tests use and what to do when it
// cannot be reached. It is read from the environment once per call of
// Database or New, so tests can point at another server with t.Setenv.
type server struct {
	dsn      string
	required bool // fail instead of skip when unreachable
}

func serverFromEnv() server {
	ci, _ := strconv.ParseBool(os.Getenv(envCI))
	req, _ := strconv.ParseBool(os.Getenv(envRequire))
	return server{dsn: DSN(), required: ci || req}
}

// createDatabase creates a database, registers its drop with t.Cleanup and
// returns its name. It skips or fails the test if the server cannot be
// reached.
func (s server) createDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := s.connectAdmin(ctx, t)
	if err != nil {
		msg := fmt.Sprintf("regiontest: cannot connect to PostgreSQL at %s (set %s to a server tests may use): %s",
			redact(s.dsn), envDSN, oneLine(err))
		if s.required {
			t.Fatal(msg + "; failing instead of skipping because " + envCI + "=true or " + envRequire + "=1")
		}
		t.Skip(msg)
	}
	defer admin.Close(ctx)

	var b [dbRandBytes]byte
	rand.Read(b[:])
	name := dbPrefix + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("regiontest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { s.dropDatabase(t, name) })
	return name
}

// dropDatabase drops a test database. FORCE (PostgreSQL 13 and later) ends
// the sessions a test left behind, such as a query stranded by a Reset that
// the server has not noticed yet. A database that cannot be dropped fails the
// test, even if the server went away meanwhile: it is left behind.
func (s server) dropDatabase(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := s.connectAdmin(ctx, t)
	if err == nil {
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		t.Errorf("regiontest: drop database %s: %s", name, oneLine(err))
	}
}

// connectAdmin connects to the database named in the DSN. A DSN that does not
// parse fails the test: that is a mistake to fix, not a server to wait for.
func (s server) connectAdmin(ctx context.Context, t testing.TB) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		t.Fatalf("regiontest: %s=%s: %s", envDSN, redact(s.dsn), oneLine(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = ConnectTimeout
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// poolConfig returns the configuration of a pool connected directly to db.
func (s server) poolConfig(t testing.TB, db string) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(s.dsn)
	if err != nil {
		t.Fatalf("regiontest: %s=%s: %s", envDSN, redact(s.dsn), oneLine(err))
	}
	cfg.ConnConfig.Database = db
	cfg.MaxConns = MaxConns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	return cfg
}

// openPool opens a pool and registers its Close with t.Cleanup. The pool
// connects lazily, on first use.
func openPool(t testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("regiontest: open pool for database %s: %v", cfg.ConnConfig.Database, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// redact hides the password of a DSN in URL or keyword=value form, so it can
// go into test output.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	re := regexp.MustCompile(`password\s*=\s*('(?:\\.|[^'\\])*'|\S+)`)
	return re.ReplaceAllString(dsn, "password=xxxxx")
}

// oneLine joins a multi-line error message into one line, so a skip message
// stays one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
