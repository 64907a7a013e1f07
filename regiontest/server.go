package regiontest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envBin names the directory of the PostgreSQL programs (initdb, pg_ctl,
// pg_dump, psql) that NewServer and DumpRestore run.
const envBin = "XREGION_PG_BIN"

// Server is a PostgreSQL server of a test's own, started by NewServer.
type Server struct {
	// DSN connects to the server's "postgres" database, as user postgres
	// with trust authentication.
	DSN string
	bin string
}

// NewServer starts a PostgreSQL server for the test alone: a new cluster,
// made by initdb in a temporary directory and listening on 127.0.0.1 on a
// free port, stopped and removed at cleanup. It stands for the server a
// region is restored onto: its transaction ids start again from a few
// hundred and its system identifier is new, where the server at DSN() has
// been counting for as long as it has run.
//
// It runs the programs of the server at DSN()'s major version: from
// XREGION_PG_BIN, else /usr/lib/postgresql/<major>/bin, else the PATH. As
// root it runs them as the user postgres, since PostgreSQL refuses to run
// as root. Where the programs or that user are missing it skips the test
// with one line saying so (even where PostgreSQL is required: the server
// at DSN() may be a service of its own, with no programs beside the
// tests); where the server at DSN() cannot be reached it skips or fails as
// Database does.
func NewServer(t testing.TB) *Server {
	t.Helper()
	bin := programs(t, "initdb", "pg_ctl", "postgres")
	dir, err := os.MkdirTemp("", "xregion-pg-")
	if err != nil {
		t.Fatalf("regiontest: server directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := asServerUser(t, dir)
	data := filepath.Join(dir, "data")
	if out, err := run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("regiontest: initdb: %v\n%s", err, out)
	}
	var port int
	for attempt := 1; ; attempt++ {
		port = freePort(t)
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off "+
			"-c synchronous_commit=off -c shared_buffers=16MB -c max_connections=40", port, dir)
		out, err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts,
			"-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 3 { // another process may have taken the port meanwhile
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("regiontest: start server: %v\n%s\n%s", err, out, log)
		}
	}
	t.Cleanup(func() {
		if out, err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("regiontest: stop server: %v\n%s", err, out)
		}
	})
	return &Server{DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), bin: bin}
}

// Database creates a fresh database on the server and returns a pool
// connected to it, as the package function Database does on the server at
// DSN(); it is dropped at cleanup, before the server stops.
func (s *Server) Database(t testing.TB) *pgxpool.Pool {
	t.Helper()
	srv := server{dsn: s.DSN, required: true}
	name, err := srv.createDatabase(context.Background())
	if err != nil {
		t.Fatalf("regiontest: %v", err)
	}
	cfg, err := srv.poolConfig(name, MaxConns)
	if err != nil {
		t.Fatalf("regiontest: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("regiontest: open pool for database %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		if err := srv.dropDatabase(name); err != nil {
			t.Errorf("regiontest: %v", err)
		}
	})
	return pool
}

// DumpRestore copies the database from is connected to into the database
// to is connected to, as an operator restores a region from a logical
// dump: pg_dump in plain format, without owners or privileges, read by
// psql, which stops at the first error. to should be empty. It skips the
// test where pg_dump or psql cannot be found, as NewServer does.
func DumpRestore(t testing.TB, from, to *pgxpool.Pool) {
	t.Helper()
	bin := programs(t, "pg_dump", "psql")
	var dump, errs bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "pg_dump"), "--no-owner", "--no-privileges", "-d", connURL(from.Config().ConnConfig))
	cmd.Env = append(os.Environ(), "PGPASSWORD="+from.Config().ConnConfig.Password)
	cmd.Stdout, cmd.Stderr = &dump, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("regiontest: pg_dump: %v\n%s", err, errs.String())
	}
	errs.Reset()
	cmd = exec.Command(filepath.Join(bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", connURL(to.Config().ConnConfig))
	cmd.Env = append(os.Environ(), "PGPASSWORD="+to.Config().ConnConfig.Password)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &dump, &errs, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("regiontest: restore with psql: %v\n%s", err, errs.String())
	}
}

// connURL is a libpq URL for cc, its password left to PGPASSWORD.
func connURL(cc *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", User: url.User(cc.User), Host: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), Path: "/" + cc.Database}
	if cc.TLSConfig == nil {
		u.RawQuery = "sslmode=disable"
	}
	return u.String()
}

// programs returns the directory holding the PostgreSQL programs named,
// of the major version of the server at DSN(), or skips the test.
func programs(t testing.TB, names ...string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv(envBin); d != "" {
		dirs = append(dirs, d)
	} else {
		s := serverFromEnv()
		conn, err := s.connectAdmin(context.Background())
		if err != nil {
			s.failed(t, err)
		}
		var num int
		err = conn.QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&num)
		conn.Close(context.Background())
		if err != nil {
			t.Fatalf("regiontest: read server version: %v", err)
		}
		dirs = append(dirs, fmt.Sprintf("/usr/lib/postgresql/%d/bin", num/10000))
		dirs = append(dirs, filepath.SplitList(os.Getenv("PATH"))...)
	}
	for _, d := range dirs {
		found := true
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(d, n)); err != nil {
				found = false
				break
			}
		}
		if found {
			return d
		}
	}
	skipOrFail(t, "regiontest: PostgreSQL programs %s not found in %s (set %s to their directory)",
		strings.Join(names, ", "), strings.Join(dirs, ":"), envBin)
	return ""
}

// asServerUser returns a function that makes commands run as a user
// PostgreSQL accepts: the test's own, or postgres when that is root, in
// which case dir is handed to postgres.
func asServerUser(t testing.TB, dir string) func(name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return exec.Command
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		skipOrFail(t, "regiontest: running as root, and no user postgres to run a PostgreSQL server as: %v", err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		skipOrFail(t, "regiontest: running as root, and no runuser to run a PostgreSQL server as postgres: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("regiontest: hand %s to postgres: %v", dir, err)
	}
	return func(name string, args ...string) *exec.Cmd {
		return exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("regiontest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// skipOrFail skips a test that cannot get a server of its own, except in
// CI (CI set), where nothing may be skipped: there it fails.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(envCI) != "" {
		t.Fatalf(format+"; failing instead of skipping because "+envCI+" is set", args...)
	}
	t.Skipf(format, args...)
}
