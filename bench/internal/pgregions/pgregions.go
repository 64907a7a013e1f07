package pgregions

import (
	"context"
	"fmt"
	"strings"

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

// Open opens regions a and b with regiontest.Open on the server dsn names,
// each pool holding up to conns connections, and a connection of its own
// for what regiontest does not do: naming the server's version, and
// CHECKPOINT. Close drops the databases.
func Open(ctx context.Context, dsn string, conns int32) (*Regions, error) {
	cfg, err := regiontest.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", regiontest.Redact(dsn), err)
	}
	var version string
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("read server version: %w", err)
	}
	version, _, _ = strings.Cut(version, " ")
	c, err := regiontest.Open(ctx, dsn, regiontest.WithPoolSize(conns))
	if err != nil {
		admin.Close(ctx)
		return nil, err
	}
	_, server := pgconn.NetworkAddress(cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	a, b := c.Region("a"), c.Region("b")
	return &Regions{
		Server: fmt.Sprintf("PostgreSQL %s at %s", version, server),
		A:      a.Direct, B: b.Pool, Proxy: b.Proxy, admin: admin,
		close: func() {
			admin.Close(context.Background())
			if err := c.Close(); err != nil {
				fmt.Println("close regions:", err)
			}
		},
	}, nil
}
