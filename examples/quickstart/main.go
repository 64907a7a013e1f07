// Command quickstart shows xregion's foundation on its embedded default: two
// regions held in memory, a last-write-wins table, a write each region makes
// while they cannot see each other, and what happens when they exchange
// changelogs: both end up holding the same record, and the write that lost
// is in each region's lost-update ledger instead of vanishing.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

// region is one region's store and the clock that stamps its writes.
type region struct {
	store xregion.Store
	clock *xregion.Clock
}

func newRegion(ctx context.Context, name xregion.Region) (*region, error) {
	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return nil, err
	}
	store, err := memstore.New(name)
	if err != nil {
		return nil, err
	}
	resolver, err := lww.New(clock)
	if err != nil {
		return nil, err
	}
	if err := store.DefineTable(ctx, "customers", resolver); err != nil {
		return nil, err
	}
	return &region{store: store, clock: clock}, nil
}

// write stores value under key in r, as a read-modify-write: the version the
// region held becomes the write's Base, which is how a concurrent write is
// told from a later one.
func (r *region) write(ctx context.Context, key, value string) error {
	var base xregion.Version
	switch cur, err := r.store.Get(ctx, "customers", key); {
	case err == nil:
		base = cur.Version
	case !errors.Is(err, xregion.ErrNotFound):
		return err
	}
	v, err := r.clock.Stamp(r.store.Region(), base)
	if err != nil {
		return err
	}
	rec := xregion.Record{Key: key, Value: []byte(value), Base: base, Version: v}
	_, err = r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "customers", Record: rec}}})
	return err
}

func run(ctx context.Context, out io.Writer) error {
	east, err := newRegion(ctx, "us-east-1")
	if err != nil {
		return err
	}
	west, err := newRegion(ctx, "us-west-2")
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "us-east-1 creates customer 42; it replicates to us-west-2.")
	if err := east.write(ctx, "customer/42", `{"email":"ada@example.com"}`); err != nil {
		return err
	}
	if _, err := replicate.Ship(ctx, east.store, west.store); err != nil {
		return err
	}

	fmt.Fprintln(out, "The regions lose sight of each other; each edits customer 42.")
	if err := east.write(ctx, "customer/42", `{"email":"ada@east.example.com"}`); err != nil {
		return err
	}
	if err := west.write(ctx, "customer/42", `{"email":"ada@west.example.com"}`); err != nil {
		return err
	}

	fmt.Fprintln(out, "The link heals and the regions exchange changelogs.")
	for _, pair := range [][2]*region{{east, west}, {west, east}} {
		n, err := replicate.Ship(ctx, pair[0].store, pair[1].store)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s -> %s: %d change(s)\n", pair[0].store.Region(), pair[1].store.Region(), n)
	}

	for _, r := range []*region{east, west} {
		rec, err := r.store.Get(ctx, "customers", "customer/42")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s holds %s (written in %s)\n", r.store.Region(), rec.Value, rec.Version.Region)
		lost, err := r.store.LostUpdates(ctx, 0, 10)
		if err != nil {
			return err
		}
		for _, l := range lost {
			fmt.Fprintf(out, "  lost-update ledger: %s %s lost %s from %s to the write from %s\n",
				l.Table, l.Lost.Key, l.Lost.Value, l.Lost.Version.Region, l.Winner.Region)
		}
	}
	return nil
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}
