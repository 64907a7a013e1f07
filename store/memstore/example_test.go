package memstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/store/memstore"
)

func Example() {
	ctx := context.Background()
	s, err := memstore.New("us-east-1")
	if err != nil {
		log.Fatal(err)
	}

	// Keep whichever write has the higher version: enough for an example,
	// though lww.Resolver also records the writes that lose.
	newest := xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
		if !local.Version.Less(incoming.Version) {
			return xregion.Resolution{}, nil
		}
		return xregion.Resolution{Record: incoming, Changed: true}, nil
	})
	if err := s.DefineTable(ctx, "orders", newest); err != nil {
		log.Fatal(err)
	}

	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		log.Fatal(err)
	}
	v, err := clock.Stamp(s.Region(), xregion.Version{}) // a blind write: it read nothing
	if err != nil {
		log.Fatal(err)
	}
	write := xregion.Record{Key: "order-1", Value: []byte("paid"), Version: v}
	res, err := s.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "orders", Record: write}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied:", res.Applied)

	rec, err := s.Get(ctx, "orders", "order-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s = %s\n", rec.Key, rec.Value)

	// The write is in the changelog too, ready for a shipper to send to
	// the other regions.
	changes, err := s.Changes(ctx, xregion.ChangeQuery{Origin: s.Region(), Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changes to ship:", len(changes), changes[0].Table, changes[0].Record.Key)
	// Output:
	// applied: 1
	// order-1 = paid
	// changes to ship: 1 orders order-1
}
