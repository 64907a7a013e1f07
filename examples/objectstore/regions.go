package main

import (
	"context"
	"fmt"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// regions is what the program needs of regions a and b, in memory or on
// PostgreSQL.
type regions struct {
	a, b   xregion.Store // each region's store, as its own processes reach it
	bFromA xregion.Store // b's store as a reaches it: across the network
	// ownTables is set when bFromA is a store value of its own (a pgstore
	// on the proxied pool), whose tables a must declare to apply changes
	// through it. A MemLink's store is b's own memstore behind the
	// network: declaring a table there would replace b's declaration.
	ownTables bool
	loseA     func() // a's link to b goes dark
	about     string // one line on where the regions live
	close     func()
}

// memRegions is the embedded default: memstores in this process, b reached
// from a through a simulated network (regiontest.MemLink) with oneWay
// latency each way.
func memRegions(oneWay time.Duration) (*regions, error) {
	a, err := memstore.New("a")
	if err != nil {
		return nil, err
	}
	b, err := memstore.New("b")
	if err != nil {
		return nil, err
	}
	link := regiontest.NewMemLink(oneWay)
	return &regions{
		a: a, b: b, bFromA: link.Store(b),
		loseA: link.Blackhole,
		about: fmt.Sprintf("in memory (memstore), %s each way between them", oneWay),
		close: link.Heal, // lets calls still held in the dark link end
	}, nil
}

// pgRegions opens a database per region on the server at dsn with
// regiontest.Open, dropped by close; a reaches b's database through b's
// regiontest.Proxy, which blackholes the link when a is lost.
func pgRegions(ctx context.Context, dsn string, oneWay time.Duration) (_ *regions, err error) {
	c, err := regiontest.Open(ctx, dsn) // regions "a" and "b"
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	ra, rb := c.Region("a"), c.Region("b")
	rb.Proxy.SetLatency(oneWay)
	r := &regions{
		ownTables: true,
		loseA:     rb.Proxy.Blackhole,
		about:     fmt.Sprintf("on PostgreSQL (databases %s and %s), %s each way from a to b through a proxy", ra.DBName, rb.DBName, oneWay),
		close: func() {
			rb.Proxy.Heal()
			c.Close()
		},
	}
	if r.a, err = pgstore.New(ctx, ra.Direct, ra.Name); err != nil {
		return nil, fmt.Errorf("open store of a: %w", err)
	}
	if r.b, err = pgstore.New(ctx, rb.Direct, rb.Name); err != nil {
		return nil, fmt.Errorf("open store of b: %w", err)
	}
	if r.bFromA, err = pgstore.New(ctx, rb.Pool, rb.Name); err != nil {
		return nil, fmt.Errorf("open store of b through the proxy: %w", err)
	}
	return r, nil
}
