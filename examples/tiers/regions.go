package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// The two regions and the table of each tier.
const (
	regionA   xregion.Region = "a"
	regionB   xregion.Region = "b"
	payments                 = "payments"
	inventory                = "inventory"
	poolConns                = 8
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
	wan := regiontest.NewMemLink(oneWay)
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
		payB: wan.Store(stores[payments][1]), invB: wan.Store(stores[inventory][1]),
		payBHere: stores[payments][1],
		setDark: func(dark bool) {
			if dark {
				wan.Blackhole()
			} else {
				wan.Heal()
			}
		},
		about: fmt.Sprintf("in memory (memstore), %s each way between the regions", oneWay),
		close: func() {},
	}, nil
}

// pgRegions opens a database per region on the server at dsn with
// regiontest.Open, dropped by close, and reaches region B's through its
// regiontest.Proxy, which adds oneWay each way and blackholes the link on
// setDark(true).
func pgRegions(ctx context.Context, dsn string, oneWay time.Duration) (_ *regions, err error) {
	c, err := regiontest.Open(ctx, dsn, regiontest.WithPoolSize(poolConns))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	a, b := c.Region(regionA), c.Region(regionB)
	b.Proxy.SetLatency(oneWay)

	clockA, clockB := newClock(), newClock()
	store := func(pool *pgxpool.Pool, region xregion.Region, clock *xregion.Clock, table string) (xregion.Store, error) {
		st, err := pgstore.New(ctx, pool, region, pgstore.WithSchema(table))
		if err != nil {
			return nil, err
		}
		return st, defineTable(ctx, st, clock, table)
	}
	r := &regions{clock: clockA, close: func() { c.Close() },
		about: fmt.Sprintf("PostgreSQL databases %s and %s, %s each way to b through a proxy", a.DBName, b.DBName, oneWay)}
	r.setDark = func(dark bool) {
		if dark {
			b.Proxy.Blackhole()
		} else {
			b.Proxy.Heal()
		}
	}
	for _, s := range []struct {
		dst   *xregion.Store
		pool  *pgxpool.Pool
		reg   xregion.Region
		clock *xregion.Clock
		table string
	}{
		{&r.payA, a.Direct, regionA, clockA, payments},
		{&r.invA, a.Direct, regionA, clockA, inventory},
		{&r.payB, b.Pool, regionB, clockB, payments},
		{&r.invB, b.Pool, regionB, clockB, inventory},
		{&r.payBHere, b.Direct, regionB, clockB, payments},
	} {
		if *s.dst, err = store(s.pool, s.reg, s.clock, s.table); err != nil {
			return nil, fmt.Errorf("open %s store of %s: %w", s.table, s.reg, err)
		}
	}
	return r, nil
}
