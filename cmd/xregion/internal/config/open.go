package config

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/pgstore"
)

// Opened is one region opened: its store with every table of the config
// declared, the clock that stamps its writes, and, when the config has
// single-writer tables, its partition Router.
type Opened struct {
	Config    Region
	Store     xregion.Store
	Clock     *xregion.Clock
	Router    *partition.Router // nil without single-writer tables
	Resolvers map[string]xregion.Resolver
	pool      *pgxpool.Pool
}

// Close closes the region's connections.
func (o *Opened) Close() {
	if o.pool != nil {
		o.pool.Close()
	}
}

// DefaultConnectTimeout bounds each connection attempt to a region's
// database when its DSN sets no connect_timeout: a dead region must not
// hang the operator's command.
const DefaultConnectTimeout = 10 * time.Second

// ErrNoStore is returned by Open for a database that holds no xregion
// store: the DSN names the wrong database, or the region was never set up.
var ErrNoStore = errors.New("config: the database holds no xregion store")

// Open connects to the region's database, which must already hold the
// region's store (the operator's commands never create one), and declares
// the config's tables on it, each with its strategy's resolver.
func (f File) Open(ctx context.Context, r Region) (*Opened, error) {
	pc, err := pgxpool.ParseConfig(r.DSN)
	if err != nil {
		// pgx's parse errors can quote the DSN, password and all.
		return nil, fmt.Errorf("region %s: the dsn does not parse as a PostgreSQL connection string", r.Name)
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("region %s: connect: %w", r.Name, err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regnamespace($1) IS NOT NULL", pgstore.DefaultSchema).Scan(&exists); err != nil {
		pool.Close()
		return nil, fmt.Errorf("region %s: %w", r.Name, err)
	}
	if !exists {
		pool.Close()
		return nil, fmt.Errorf("region %s: %w (no schema %q): check its dsn", r.Name, ErrNoStore, pgstore.DefaultSchema)
	}
	store, err := pgstore.New(ctx, pool, r.Name)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("region %s: %w", r.Name, err)
	}
	o, err := f.Declare(ctx, store)
	if err != nil {
		pool.Close()
		return nil, err
	}
	o.Config, o.pool = r, pool
	return o, nil
}

// Declare declares the config's tables on a store that is already open
// (the drill's in-memory regions use it).
func (f File) Declare(ctx context.Context, store xregion.Store) (*Opened, error) {
	o := &Opened{Store: store, Resolvers: make(map[string]xregion.Resolver, len(f.Tables))}
	name := store.Region()
	var err error
	if o.Clock, err = xregion.NewClock(xregion.SystemClock{}); err != nil {
		return nil, err
	}
	for _, t := range f.Tables {
		var res xregion.Resolver
		switch t.Strategy {
		case StrategyLWW:
			res, err = lww.New(o.Clock)
		case StrategyCRDT:
			res, err = crdt.NewResolver(name, o.Clock)
		case StrategySingleWriter:
			if o.Router == nil {
				if o.Router, err = partition.New(ctx, store, o.Clock, f.Partitions, partition.WithApprovals(f.Approvals)); err != nil {
					return nil, fmt.Errorf("region %s: %w", name, err)
				}
			}
			var inner xregion.Resolver
			if inner, err = lww.New(o.Clock); err == nil {
				res, err = partition.NewGuard(o.Router, inner)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("region %s table %s: %w", name, t.Name, err)
		}
		if err := store.DefineTable(ctx, t.Name, res); err != nil {
			return nil, fmt.Errorf("region %s: %w", name, err)
		}
		o.Resolvers[t.Name] = res
	}
	return o, nil
}

// ResyncTables returns the tables to resync between a and b, with the
// ownership map first when there are single-writer tables: a failback
// must agree on homes before it judges the writes they fence.
func (f File) ResyncTables(a, b *Opened) []resync.Table {
	var tables []resync.Table
	if a.Router != nil && b.Router != nil {
		tables = append(tables, resync.Table{Name: a.Router.Table(), A: a.Router.Resolver(), B: b.Router.Resolver()})
	}
	for _, t := range f.Tables {
		rt := resync.Table{Name: t.Name, A: a.Resolvers[t.Name], B: b.Resolvers[t.Name]}
		if t.Strategy == StrategySingleWriter {
			rt.Reassert = reassert(a, b, t.Name)
		}
		tables = append(tables, rt)
	}
	return tables
}

// reassert has each key's current home write it again, in whichever of a
// and b is that home.
func reassert(a, b *Opened, table string) func(ctx context.Context, keys []string) error {
	return func(ctx context.Context, keys []string) error {
		byHome := map[xregion.Region][]string{}
		for _, k := range keys {
			home := a.Router.Route(k).Home
			byHome[home] = append(byHome[home], k)
		}
		var errs []error
		for _, o := range []*Opened{a, b} {
			if ks := byHome[o.Store.Region()]; len(ks) > 0 {
				if _, err := o.Router.Reassert(ctx, table, ks...); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	}
}
