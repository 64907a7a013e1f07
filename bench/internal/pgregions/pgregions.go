package pgregions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion/regiontest"
)

// Regions are the two databases of a run.
type Regions struct {
	Server string            // "PostgreSQL 15.x at host:port"
	A, B   *pgxpool.Pool     // B's connects through Proxy
	Proxy  *regiontest.Proxy // set the delay with SetLatency
	admin  *pgx.Conn
	close  func()
}

// Close closes the pools and drops the databases.
func (r *Regions) Close() { r.close() }

// Settle writes out the server's dirty pages (CHECKPOINT), so that a phase
// of a benchmark does not pay for the pages the one before it left.
func (r *Regions) Settle(ctx context.Context) error {
	_, err := r.admin.Exec(ctx, "CHECKPOINT")
	return err
}

// Open creates the two databases, named prefix plus a random suffix and
// "_a" or "_b", on the server dsn names; each pool holds up to conns
// connections. Close drops them.
func Open(ctx context.Context, dsn, prefix string, conns int32) (_ *Regions, err error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	var cleanup []func()
	closeAll := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	cleanup = append(cleanup, func() { admin.Close(context.Background()) })

	var version string
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	version, _, _ = strings.Cut(version, " ")
	suffix := make([]byte, 4)
	rand.Read(suffix)
	var dbs []string
	for _, r := range []string{"a", "b"} {
		name := prefix + hex.EncodeToString(suffix) + "_" + r
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("create database %s: %w", name, err)
		}
		dbs = append(dbs, name)
		cleanup = append(cleanup, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		})
	}

	cc := admin.Config()
	_, upstream := pgconn.NetworkAddress(cc.Host, cc.Port)
	proxy, err := regiontest.NewProxy(upstream)
	if err != nil {
		return nil, err
	}
	open := func(db string, via *regiontest.Proxy) (*pgxpool.Pool, error) {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		cfg.ConnConfig.Database, cfg.MaxConns = db, conns
		if via != nil {
			host, port, _ := net.SplitHostPort(via.Addr())
			p, _ := strconv.ParseUint(port, 10, 16)
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
			for _, fb := range cfg.ConnConfig.Fallbacks { // sslmode=prefer's retry without TLS goes through it too
				fb.Host, fb.Port = host, uint16(p)
			}
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		cleanup = append(cleanup, pool.Close)
		return pool, nil
	}
	a, err := open(dbs[0], nil)
	if err != nil {
		return nil, err
	}
	b, err := open(dbs[1], proxy)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { proxy.Close() }) // before b's pool: nothing waits in it
	return &Regions{
		Server: fmt.Sprintf("PostgreSQL %s at %s", version, upstream),
		A:      a, B: b, Proxy: proxy, admin: admin, close: closeAll,
	}, nil
}
