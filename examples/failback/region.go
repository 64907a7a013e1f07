package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// The tables: payments are last-write-wins records, balances are counters
// of exact decimals (a CRDT) that every region adds to.
const (
	payments = "payments"
	balances = "balances"
)

// region is one region: its store, the clock that stamps its writes, and
// the resolvers it declared its tables with, which resync needs too.
type region struct {
	name     xregion.Region
	store    xregion.Store
	clock    *xregion.Clock
	payments xregion.Resolver
	balances xregion.Resolver
	wall     *xregion.ManualClock
}

// openStores opens regions a and b: memstores in this process, or with a
// DSN a PostgreSQL database each, created for the run and dropped by close.
func openStores(ctx context.Context, dsn string, wall xregion.WallClock) (a, b xregion.Store, about string, close func(), err error) {
	if dsn == "" {
		if a, err = memstore.New("a", memstore.WithWallClock(wall)); err != nil {
			return nil, nil, "", nil, err
		}
		if b, err = memstore.New("b", memstore.WithWallClock(wall)); err != nil {
			return nil, nil, "", nil, err
		}
		return a, b, "in memory (memstore)", func() {}, nil
	}
	c, err := regiontest.Open(ctx, dsn) // regions "a" and "b"
	if err != nil {
		return nil, nil, "", nil, err
	}
	ra, rb := c.Region("a"), c.Region("b")
	if a, err = pgstore.New(ctx, ra.Direct, ra.Name); err == nil {
		b, err = pgstore.New(ctx, rb.Direct, rb.Name)
	}
	if err != nil {
		c.Close()
		return nil, nil, "", nil, fmt.Errorf("open store: %w", err)
	}
	return a, b, fmt.Sprintf("on PostgreSQL (databases %s and %s)", ra.DBName, rb.DBName), func() { c.Close() }, nil
}

// newRegion declares the tables in store, with resolvers on a clock of the
// region's own that reads wall.
func newRegion(ctx context.Context, store xregion.Store, wall *xregion.ManualClock) (*region, error) {
	r := &region{name: store.Region(), store: store, wall: wall}
	var err error
	if r.clock, err = xregion.NewClock(wall); err != nil {
		return nil, err
	}
	if r.payments, err = lww.New(r.clock); err != nil {
		return nil, err
	}
	if r.balances, err = crdt.NewResolver(r.name, r.clock); err != nil {
		return nil, err
	}
	if err := store.DefineTable(ctx, payments, r.payments); err != nil {
		return nil, err
	}
	if err := store.DefineTable(ctx, balances, r.balances); err != nil {
		return nil, err
	}
	return r, nil
}

// get returns the record under key, or the zero Record if there is none.
func (r *region) get(ctx context.Context, table, key string) (xregion.Record, error) {
	rec, err := r.store.Get(ctx, table, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return xregion.Record{}, nil
	}
	return rec, err
}

// apply writes rec to table as a local write of the region, and returns it.
func (r *region) apply(ctx context.Context, table string, rec xregion.Record) (xregion.Record, error) {
	_, err := r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: table, Record: rec}}})
	return rec, err
}

// pay stores a payment, a second after the region's last write. The version
// the region held becomes the write's Base: that is how a concurrent write
// is told from a later one.
func (r *region) pay(ctx context.Context, id, value string) (xregion.Record, error) {
	r.wall.Advance(time.Second)
	held, err := r.get(ctx, payments, id)
	if err != nil {
		return xregion.Record{}, err
	}
	v, err := r.clock.Stamp(r.name, held.Version)
	if err != nil {
		return xregion.Record{}, err
	}
	return r.apply(ctx, payments, xregion.Record{Key: id, Value: []byte(value), Base: held.Version, Version: v})
}

// credit adds amount to the balance of account. The write is a delta made
// from the state the region holds; the store merges it in.
func (r *region) credit(ctx context.Context, account, amount string) (xregion.Record, error) {
	r.wall.Advance(time.Second)
	held, err := r.get(ctx, balances, account)
	if err != nil {
		return xregion.Record{}, err
	}
	state, err := crdt.NewPNCounter(18, 2)
	if err != nil {
		return xregion.Record{}, err
	}
	if !held.Version.IsZero() {
		if state, err = crdt.DecodeAs[crdt.PNCounter](held.Value); err != nil {
			return xregion.Record{}, err
		}
	}
	d, _, err := apd.NewFromString(amount)
	if err != nil {
		return xregion.Record{}, fmt.Errorf("amount %q: %w", amount, err)
	}
	delta, err := state.Add(r.name, d)
	if err != nil {
		return xregion.Record{}, err
	}
	rec, err := crdt.Write(r.clock, r.name, account, held.Version, delta)
	if err != nil {
		return xregion.Record{}, err
	}
	return r.apply(ctx, balances, rec)
}

// balance reads the balance of account.
func (r *region) balance(ctx context.Context, account string) (string, error) {
	held, err := r.get(ctx, balances, account)
	if err != nil || held.Version.IsZero() {
		return "0", err
	}
	c, err := crdt.DecodeAs[crdt.PNCounter](held.Value)
	if err != nil {
		return "", err
	}
	return c.Value().String(), nil
}
