package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// The two regions and the table of each tier.
const (
	regionA    xregion.Region = "a"
	regionB    xregion.Region = "b"
	payments                  = "payments"
	inventory                 = "inventory"
	poolConns                 = 8
	connectTTL                = 5 * time.Second
)

// regions is what the program needs of the two regions, in memory or on
// PostgreSQL.
//
// Each tier has a store of its own in each region (a memstore, or a pgstore
// schema): a replicator ships its local store's whole changelog, so payments
// and inventory need separate changelogs to travel on separate tiers.
type regions struct {
	clock      *xregion.Clock // stamps region A's writes
	payA, invA xregion.Store  // region A's stores
	payB, invB xregion.Store  // region B's stores as A reaches them, across the network
	payBHere   xregion.Store  // region B's payments store read in B, to check what it holds
	setDark    func(bool)     // cuts (true) or heals (false) the network to B
	about      string         // one line on where the regions live
	close      func()
}

// defineTable declares table in st with a last-write-wins resolver on clock.
func defineTable(ctx context.Context, st xregion.Store, clock *xregion.Clock, table string) error {
	r, err := lww.New(clock)
	if err != nil {
		return err
	}
	return st.DefineTable(ctx, table, r)
}

func newClock() *xregion.Clock {
	c, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		panic(err) // only a nil WallClock fails
	}
	return c
}

// memRegions builds the embedded default: memstores in this process, region
// B reached through a simulated network.
func memRegions(ctx context.Context, oneWay time.Duration) (*regions, error) {
	clockA, clockB := newClock(), newClock()
	wan := &network{oneWay: oneWay}
	stores := map[string][2]xregion.Store{}
	for _, table := range []string{payments, inventory} {
		a, err := memstore.New(regionA)
		if err != nil {
			return nil, err
		}
		b, err := memstore.New(regionB)
		if err != nil {
			return nil, err
		}
		if err := defineTable(ctx, a, clockA, table); err != nil {
			return nil, err
		}
		if err := defineTable(ctx, b, clockB, table); err != nil {
			return nil, err
		}
		stores[table] = [2]xregion.Store{a, b}
	}
	return &regions{
		clock: clockA,
		payA:  stores[payments][0], invA: stores[inventory][0],
		payB: wan.linkTo(stores[payments][1]), invB: wan.linkTo(stores[inventory][1]),
		payBHere: stores[payments][1],
		setDark:  wan.setDark,
		about:    fmt.Sprintf("in memory (memstore), %s each way between the regions", oneWay),
		close:    func() {},
	}, nil
}

// pgRegions creates a database per region on the server at dsn, dropped by
// close, and reaches region B's through a regiontest.Proxy that adds oneWay
// each way and blackholes the link on setDark(true).
func pgRegions(ctx context.Context, dsn string, oneWay time.Duration) (_ *regions, err error) {
	// Parsed once, by regiontest: pgx's parse errors can quote pieces of a
	// malformed DSN's password; regiontest's name it only through Redact.
	base, err := regiontest.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if base.ConnConfig.ConnectTimeout == 0 {
		base.ConnConfig.ConnectTimeout = connectTTL // so a connection attempt into the blackhole ends
	}
	admin, err := pgx.ConnectConfig(ctx, base.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", regiontest.Redact(dsn), err)
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

	suffix := make([]byte, 4)
	rand.Read(suffix)
	dbs := map[xregion.Region]string{}
	for _, r := range []xregion.Region{regionA, regionB} {
		name := "xr_tiers_" + hex.EncodeToString(suffix) + "_" + string(r)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("create database %s: %w", name, err)
		}
		dbs[r] = name
		cleanup = append(cleanup, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		})
	}

	open := func(db string, proxy *regiontest.Proxy) (*pgxpool.Pool, error) {
		cfg := base.Copy()
		cfg.ConnConfig.Database, cfg.MaxConns = db, poolConns
		if proxy != nil {
			host, port, _ := net.SplitHostPort(proxy.Addr())
			p, _ := strconv.ParseUint(port, 10, 16)
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
			for _, fb := range cfg.ConnConfig.Fallbacks { // sslmode=prefer retries without TLS: through the proxy too
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
	_, upstream := pgconn.NetworkAddress(base.ConnConfig.Host, base.ConnConfig.Port)
	proxy, err := regiontest.NewProxy(upstream)
	if err != nil {
		return nil, err
	}
	proxy.SetLatency(oneWay)
	poolA, err := open(dbs[regionA], nil)
	if err != nil {
		return nil, err
	}
	poolB, err := open(dbs[regionB], nil)
	if err != nil {
		return nil, err
	}
	poolBRemote, err := open(dbs[regionB], proxy)
	if err != nil {
		return nil, err
	}
	// The proxy closes before the pools behind it, so that calls held in the
	// blackhole fail at once.
	cleanup = append(cleanup, func() { proxy.Close() })

	clockA, clockB := newClock(), newClock()
	store := func(pool *pgxpool.Pool, region xregion.Region, clock *xregion.Clock, table string) (xregion.Store, error) {
		st, err := pgstore.New(ctx, pool, region, pgstore.WithSchema(table))
		if err != nil {
			return nil, err
		}
		return st, defineTable(ctx, st, clock, table)
	}
	r := &regions{clock: clockA, close: closeAll, about: fmt.Sprintf("PostgreSQL databases %s and %s, %s each way to b through a proxy", dbs[regionA], dbs[regionB], oneWay)}
	r.setDark = func(dark bool) {
		if dark {
			proxy.Blackhole()
		} else {
			proxy.Heal()
		}
	}
	for _, s := range []struct {
		dst   *xregion.Store
		pool  *pgxpool.Pool
		reg   xregion.Region
		clock *xregion.Clock
		table string
	}{
		{&r.payA, poolA, regionA, clockA, payments},
		{&r.invA, poolA, regionA, clockA, inventory},
		{&r.payB, poolBRemote, regionB, clockB, payments},
		{&r.invB, poolBRemote, regionB, clockB, inventory},
		{&r.payBHere, poolB, regionB, clockB, payments},
	} {
		if *s.dst, err = store(s.pool, s.reg, s.clock, s.table); err != nil {
			return nil, fmt.Errorf("open %s store of %s: %w", s.table, s.reg, err)
		}
	}
	return r, nil
}
