package drill

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// The drill's tables: one per tier, each in a store (a memstore, or a
// pgstore schema) of its own, because a replicator ships its store's whole
// changelog and the tiers replicate differently.
const (
	payments  = "payments"  // Tier 1
	inventory = "inventory" // Tier 2

	paySchema = "xregion_drill_tier1"
	invSchema = "xregion_drill_tier2"
)

// Region is one region as the drill drives it: its store of each tier as
// its own processes reach them, the resolvers it declared the tables with,
// and the clock that stamps its writes.
type Region struct {
	Name           xregion.Region
	Pay, Inv       xregion.Store
	PayRes, InvRes xregion.Resolver
	Clock          *xregion.Clock
}

// Env is the two regions a drill runs on: a, the primary it kills, and b,
// the standby that takes over.
type Env struct {
	A, B Region
	// AFromB are a's stores as b reaches them, BFromA b's as a reaches
	// them: across a's network, which the kill cuts.
	AFromB, BFromA struct{ Pay, Inv xregion.Store }
	// Call sends a client's request to a region's service, which runs f:
	// to a, it crosses a's network.
	Call func(ctx context.Context, to xregion.Region, f func(ctx context.Context) error) error
	// Kill cuts region a off: every link to its service and its database
	// holds its bytes. Restore heals them.
	Kill, Restore func()
	About         string // one line on where the regions live
	Close         func()
}

// Embedded returns two regions in this process: memstores, with a's
// network two regiontest.MemLinks: to b, of oneWay latency each way, and
// to its clients, which are in its region.
func Embedded(ctx context.Context, oneWay time.Duration) (*Env, error) {
	wan, clients := regiontest.NewMemLink(oneWay), regiontest.NewMemLink(0)
	var rs [2]Region
	for i, name := range []xregion.Region{"a", "b"} {
		pay, err := memstore.New(name)
		if err != nil {
			return nil, err
		}
		inv, err := memstore.New(name)
		if err != nil {
			return nil, err
		}
		if rs[i], err = declare(ctx, name, pay, inv); err != nil {
			return nil, err
		}
	}
	env := &Env{
		A: rs[0], B: rs[1],
		Call: func(ctx context.Context, to xregion.Region, f func(ctx context.Context) error) error {
			if to == rs[0].Name {
				return clients.Call(ctx, to, f)
			}
			return f(ctx)
		},
		Kill: func() {
			wan.Blackhole()
			clients.Blackhole()
		},
		Restore: func() {
			wan.Heal()
			clients.Heal()
		},
		About: fmt.Sprintf("in memory (memstore), %s each way between the regions", oneWay),
		Close: func() {},
	}
	env.AFromB.Pay, env.AFromB.Inv = wan.Store(rs[0].Pay), wan.Store(rs[0].Inv)
	env.BFromA.Pay, env.BFromA.Inv = wan.Store(rs[1].Pay), wan.Store(rs[1].Inv)
	return env, nil
}

// Postgres returns the two regions on their PostgreSQL databases, in
// schemas of the drill's own (dropped and made afresh, so a drill never
// touches a deployment's tables). Every connection to a's database goes
// through a regiontest.Proxy in this process, which the kill blackholes.
func Postgres(ctx context.Context, a, b Database) (*Env, error) {
	var (
		rs      [2]Region
		closers []func()
		proxy   *regiontest.Proxy
	)
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for i, db := range []Database{a, b} {
		cfg, err := pgxpool.ParseConfig(db.DSN)
		if err != nil {
			closeAll()
			// pgx's parse errors can quote the DSN, password and all.
			return nil, fmt.Errorf("region %s: the dsn does not parse as a PostgreSQL connection string", db.Name)
		}
		if i == 0 {
			upstream := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
			if proxy, err = regiontest.NewProxy(upstream); err != nil {
				closeAll()
				return nil, fmt.Errorf("region %s: %w", db.Name, err)
			}
			closers = append(closers, func() { proxy.Close() })
			host, port, _ := net.SplitHostPort(proxy.Addr())
			p, _ := strconv.Atoi(port)
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
			cfg.ConnConfig.Fallbacks = nil
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("region %s: connect: %w", db.Name, err)
		}
		closers = append(closers, pool.Close)
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+paySchema+" CASCADE; DROP SCHEMA IF EXISTS "+invSchema+" CASCADE"); err != nil {
			closeAll()
			return nil, fmt.Errorf("region %s: drop the last drill's schemas: %w", db.Name, err)
		}
		pay, err := pgstore.New(ctx, pool, db.Name, pgstore.WithSchema(paySchema))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("region %s: %w", db.Name, err)
		}
		inv, err := pgstore.New(ctx, pool, db.Name, pgstore.WithSchema(invSchema))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("region %s: %w", db.Name, err)
		}
		if rs[i], err = declare(ctx, db.Name, pay, inv); err != nil {
			closeAll()
			return nil, err
		}
	}
	env := &Env{
		A: rs[0], B: rs[1],
		Call:    func(ctx context.Context, _ xregion.Region, f func(ctx context.Context) error) error { return f(ctx) },
		Kill:    proxy.Blackhole,
		Restore: proxy.Heal,
		About:   fmt.Sprintf("on PostgreSQL (schemas %s and %s in each region's database)", paySchema, invSchema),
		Close:   closeAll,
	}
	env.AFromB.Pay, env.AFromB.Inv = rs[0].Pay, rs[0].Inv
	env.BFromA.Pay, env.BFromA.Inv = rs[1].Pay, rs[1].Inv
	return env, nil
}

// Database is a region's name and the DSN of its database.
type Database struct {
	Name xregion.Region
	DSN  string
}

// declare declares each tier's table in its store, last-write-wins on a
// clock of the region's own.
func declare(ctx context.Context, name xregion.Region, pay, inv xregion.Store) (Region, error) {
	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return Region{}, err
	}
	r := Region{Name: name, Pay: pay, Inv: inv, Clock: clock}
	if r.PayRes, err = lww.New(clock); err != nil {
		return Region{}, err
	}
	if r.InvRes, err = lww.New(clock); err != nil {
		return Region{}, err
	}
	if err := pay.DefineTable(ctx, payments, r.PayRes); err != nil {
		return Region{}, fmt.Errorf("region %s: %w", name, err)
	}
	if err := inv.DefineTable(ctx, inventory, r.InvRes); err != nil {
		return Region{}, fmt.Errorf("region %s: %w", name, err)
	}
	return r, nil
}
