package regiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

// ServerDSN returns DSN() once the server answers there: for a test that
// hands the DSN to a program (which calls Open). When the server cannot be
// reached it skips or fails the test as Database does.
func ServerDSN(t testing.TB) string {
	t.Helper()
	s := serverFromEnv()
	conn, err := s.connectAdmin(context.Background())
	if err != nil {
		s.failed(t, err)
	}
	conn.Close(context.Background())
	return s.dsn
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
	name, err := s.createDatabase(context.Background())
	if err != nil {
		s.failed(t, err)
	}
	t.Cleanup(func() {
		if err := s.dropDatabase(name); err != nil {
			t.Errorf("regiontest: %v", err)
		}
	})
	cfg, err := s.poolConfig(name, MaxConns)
	if err != nil {
		t.Fatalf("regiontest: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("regiontest: open pool for database %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	return pool
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

// unreachableError is a server that could not be reached: a test skips
// for it, unless PostgreSQL is required.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// failed ends the test for an error of Database or New: it skips for an
// unreachable server unless one is required, and fails otherwise.
func (s server) failed(t testing.TB, err error) {
	t.Helper()
	var ue *unreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("regiontest: %s", oneLine(err))
	}
	msg := fmt.Sprintf("regiontest: cannot connect to PostgreSQL at %s (set %s to a server tests may use): %s",
		Redact(s.dsn), envDSN, oneLine(ue.err))
	if s.required {
		t.Fatal(msg + "; failing instead of skipping because " + envCI + "=true or " + envRequire + "=1")
	}
	t.Skip(msg)
}

// createDatabase creates a database and returns its name. An error wraps
// an *unreachableError if the server cannot be reached.
func (s server) createDatabase(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	admin, err := s.connectAdmin(ctx)
	if err != nil {
		return "", err
	}
	defer admin.Close(ctx)

	var b [dbRandBytes]byte
	rand.Read(b[:])
	name := dbPrefix + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// dropDatabase drops a database createDatabase made. FORCE (PostgreSQL 13
// and later) ends the sessions left behind, such as a query stranded by a
// Reset that the server has not noticed yet. A database that cannot be
// dropped is an error, even if the server went away meanwhile: it is left
// behind.
func (s server) dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := s.connectAdmin(ctx)
	if err == nil {
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		return fmt.Errorf("drop database %s: %s", name, oneLine(err))
	}
	return nil
}

// connectAdmin connects to the database named in the DSN. A DSN that does
// not parse is a mistake to fix; a server that does not answer is an
// *unreachableError.
func (s server) connectAdmin(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := s.parse()
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = ConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, &unreachableError{err}
	}
	return conn, nil
}

func (s server) parse() (*pgxpool.Config, error) { return ParseDSN(s.dsn) }

// poolConfig returns the configuration of a pool of size conns connected
// directly to db.
func (s server) poolConfig(db string, conns int32) (*pgxpool.Config, error) {
	cfg, err := s.parse()
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.Database = db
	cfg.MaxConns = conns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	return cfg, nil
}

// Redact returns dsn, in URL or keyword=value form, with its passwords
// hidden, so it can go into test output, logs and errors. It never fails:
// where a malformed DSN leaves unclear where a password ends, it hides more
// (the whole user information, every parameter, all that follows a word
// that is not keyword=value) rather than guess.
func Redact(dsn string) string {
	if urlScheme.MatchString(dsn) {
		return redactURL(dsn)
	}
	if !strings.Contains(dsn, "=") {
		// Neither form; what comes before an @ can only be a user and
		// password.
		if i := strings.LastIndex(dsn, "@"); i >= 0 {
			return hidden + dsn[i:]
		}
		return dsn
	}
	return redactKeywords(dsn)
}

// hidden stands in for what Redact hides.
const hidden = "xxxxx"

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// redactURL redacts a DSN that starts with a URL scheme.
func redactURL(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && !atPastHost(dsn) {
		u.RawQuery = redactQuery(u.RawQuery)
		return u.Redacted()
	}
	scheme, rest, _ := strings.Cut(dsn, "://")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = hidden + rest[i:]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i+1] + hidden
	}
	return scheme + "://" + rest
}

// atPastHost reports whether a URL DSN has an @ after its host. A password
// holding an unencoded / ? or # ends the host there for net/url and pgx
// alike, and the rest of it reads as the database or parameters.
func atPastHost(dsn string) bool {
	_, rest, _ := strings.Cut(dsn, "://")
	i := strings.IndexAny(rest, "/?#")
	return i >= 0 && strings.Contains(rest[i:], "@")
}

// redactQuery hides the values of password parameters (password,
// sslpassword, however percent-encoded), and whole any part that is not
// name=value.
func redactQuery(q string) string {
	var b strings.Builder
	for q != "" {
		n := strings.IndexAny(q, "&;")
		if n < 0 {
			n = len(q)
		}
		p := q[:n]
		name, _, ok := strings.Cut(p, "=")
		name, err := url.QueryUnescape(name)
		switch {
		case p == "":
		case !ok || err != nil || name == "":
			p = hidden
		case secretKey(name):
			p = p[:strings.IndexByte(p, '=')+1] + hidden
		}
		b.WriteString(p)
		if n < len(q) {
			b.WriteByte(q[n])
			n++
		}
		q = q[n:]
	}
	return b.String()
}

// redactKeywords redacts a DSN of keyword=value pairs, read as libpq reads
// them: a value is quoted ('...', with \' and \\ inside) or runs to the
// next unescaped space. An unterminated quote, or a word that is not
// keyword=value, hides the rest of the DSN.
func redactKeywords(dsn string) string {
	var b strings.Builder
	s := dsn
	for {
		sp := spaces(s)
		b.WriteString(s[:sp])
		if s = s[sp:]; s == "" {
			return b.String()
		}
		k := strings.IndexFunc(s, func(r rune) bool { return r == '=' || r < 0x80 && isSpace(byte(r)) })
		if k < 0 {
			k = len(s)
		}
		key := s[:k]
		eq := k + spaces(s[k:])
		if key == "" || eq == len(s) || s[eq] != '=' {
			// Not keyword=value: with the pairs out of step, any word
			// from here on may be a password, its keyword left out.
			return b.String() + hidden
		}
		v := eq + 1 + spaces(s[eq+1:])
		b.WriteString(s[:v])
		s = s[v:]
		n := valueLen(s)
		if secretKey(key) {
			b.WriteString(hidden)
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
}

// valueLen is the length of the keyword value s starts with.
func valueLen(s string) int {
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return i + 1
			}
		}
		return len(s)
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case isSpace(s[i]):
			return i
		}
	}
	return len(s)
}

func spaces(s string) int {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return strings.IndexByte(" \t\n\r\v\f", c) >= 0 }

// secretKey reports whether a DSN parameter holds a password: password,
// sslpassword.
func secretKey(name string) bool { return strings.Contains(strings.ToLower(name), "password") }

// ParseDSN parses dsn as pgxpool.ParseConfig does, but its error shows the
// DSN only as Redact does: pgx hides a password in its message only as far
// as it can tell where one ends, and quotes pieces of a DSN that does not
// parse. It also refuses a URL with an @ after the host, which pgx reads
// as a host that is not the one meant and part of a password as the
// database, which its connection errors name.
func ParseDSN(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err == nil && urlScheme.MatchString(dsn) && atPastHost(dsn) {
		return nil, fmt.Errorf("parse DSN %s: an @ after the host; percent-encode / ? # and @ in a user name or password (%%2F %%3F %%23 %%40)", Redact(dsn))
	}
	if err == nil {
		return cfg, nil
	}
	// The redacted DSN holds no secret, so pgx's message about it shows
	// none; it fails the same way unless the fault is in what Redact hid.
	r := Redact(dsn)
	if _, err := pgxpool.ParseConfig(r); err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	return nil, fmt.Errorf("parse DSN %s: malformed in a part shown as %s", r, hidden)
}

// oneLine joins a multi-line error message into one line, so a skip message
// stays one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
