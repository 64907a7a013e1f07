package partition_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

// exampleRegion is one region of the examples: a store in memory, the clock
// that stamps its writes, its Router, and an "accounts" table guarded by it.
type exampleRegion struct {
	store  *memstore.Store
	clock  *xregion.Clock
	router *partition.Router
}

func newExampleRegion(ctx context.Context, name xregion.Region) (*exampleRegion, error) {
	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return nil, err
	}
	store, err := memstore.New(name)
	if err != nil {
		return nil, err
	}
	router, err := partition.New(ctx, store, clock, 64, partition.WithPollInterval(time.Millisecond))
	if err != nil {
		return nil, err
	}
	inner, err := lww.New(clock)
	if err != nil {
		return nil, err
	}
	guard, err := partition.NewGuard(router, inner)
	if err != nil {
		return nil, err
	}
	if err := store.DefineTable(ctx, "accounts", guard); err != nil {
		return nil, err
	}
	return &exampleRegion{store: store, clock: clock, router: router}, nil
}

// write is a service writing an account: Stamp first, which refuses a
// region that is not the key's home, then Apply.
func (r *exampleRegion) write(ctx context.Context, key, value string) (xregion.Record, error) {
	rec := xregion.Record{Key: key, Value: []byte(value)}
	if held, err := r.store.Get(ctx, "accounts", key); err == nil {
		rec.Base = held.Version
	}
	rec, err := r.router.Stamp(rec)
	if err != nil {
		return rec, err
	}
	if rec.Version, err = r.clock.Stamp(r.store.Region(), rec.Base); err != nil {
		return rec, err
	}
	_, err = r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "accounts", Record: rec}}})
	return rec, err
}

// Example shows a single-writer table across two regions: the ownership map
// routes each customer's writes to one home; after a failover, a write the
// old home made under the old epoch is quarantined, not applied.
func Example() {
	ctx := context.Background()
	east, _ := newExampleRegion(ctx, "us-east-1")
	west, _ := newExampleRegion(ctx, "eu-west-1")

	// Every partition starts in us-east-1.
	east.router.Bootstrap(ctx, func(int) xregion.Region { return "us-east-1" })
	replicate.Ship(ctx, east.store, west.store)

	route := west.router.Route("customer-42")
	fmt.Printf("customer-42: partition %d, home %s, epoch %d\n", route.Partition, route.Home, route.Epoch)

	east.write(ctx, "customer-42", "balance=100")
	replicate.Ship(ctx, east.store, west.store)
	_, err := west.write(ctx, "customer-42", "balance=90")
	home, _ := partition.HomeOf(err)
	fmt.Println("write in eu-west-1 refused; send it to", home)

	// us-east-1 goes dark. Two people approve moving its partitions.
	_, err = west.router.Failover(ctx, []int{route.Partition}, partition.Approval{By: "alice"})
	fmt.Println(err)
	west.router.Failover(ctx, []int{route.Partition}, partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
	west.write(ctx, "customer-42", "balance=90")

	// us-east-1 was not gone after all: it took a write before it heard.
	east.write(ctx, "customer-42", "balance=50")
	replicate.Ship(ctx, east.store, west.store)

	rec, _ := west.store.Get(ctx, "accounts", "customer-42")
	fmt.Printf("eu-west-1 holds %s (epoch %d)\n", rec.Value, rec.Epoch)
	q, _, _ := west.router.Quarantine(ctx, 0, 10)
	for _, l := range q {
		fmt.Printf("quarantined: %s %s from %s at epoch %d\n", l.Lost.Key, l.Lost.Value, l.Lost.Version.Region, l.Lost.Epoch)
	}
	// Output:
	// customer-42: partition 30, home us-east-1, epoch 1
	// write in eu-west-1 refused; send it to us-east-1
	// failover: partition: 2 distinct approvals needed, got 1
	// eu-west-1 holds balance=90 (epoch 2)
	// quarantined: customer-42 balance=50 from us-east-1 at epoch 1
}

// ExampleRouter_Handover moves partitions from a live home with nothing
// lost: the old home stops at once, and Handover returns when the new home
// holds every write the old one made (here a goroutine ships, as the
// replicator would).
func ExampleRouter_Handover() {
	ctx := context.Background()
	east, _ := newExampleRegion(ctx, "us-east-1")
	west, _ := newExampleRegion(ctx, "eu-west-1")
	east.router.Bootstrap(ctx, func(int) xregion.Region { return "us-east-1" })
	east.write(ctx, "customer-42", "balance=100")

	shipping, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for shipping.Err() == nil {
			replicate.Ship(shipping, east.store, west.store)
			time.Sleep(time.Millisecond)
		}
	}()
	p := east.router.Partition("customer-42")
	grants, err := east.router.Handover(ctx, []int{p}, west.store)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(grants[0])

	_, err = east.write(ctx, "customer-42", "balance=80")
	fmt.Println(errors.Is(err, partition.ErrNotHome))
	rec, _ := west.write(ctx, "customer-42", "balance=80")
	fmt.Printf("eu-west-1 wrote %s at epoch %d\n", rec.Value, rec.Epoch)
	// Output:
	// partition 30: eu-west-1 at epoch 2 (handover from us-east-1)
	// true
	// eu-west-1 wrote balance=80 at epoch 2
}

// ExampleRouter_Check: a record stamped before ownership moved is refused
// with an error that names the partition and both epochs.
func ExampleRouter_Check() {
	ctx := context.Background()
	east, _ := newExampleRegion(ctx, "us-east-1")
	west, _ := newExampleRegion(ctx, "eu-west-1")
	east.router.Bootstrap(ctx, func(int) xregion.Region { return "us-east-1" })
	replicate.Ship(ctx, east.store, west.store)

	stamped, _ := east.router.Stamp(xregion.Record{Key: "customer-42"})
	p := east.router.Partition("customer-42")
	west.router.Failover(ctx, []int{p}, partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
	replicate.Ship(ctx, west.store, east.store)

	err := east.router.Check(stamped)
	var stale *partition.StaleEpochError
	if errors.As(err, &stale) {
		fmt.Println(stale.Partition, stale.Current, stale.Got)
	}
	fmt.Println(err)
	// Output:
	// 30 2 1
	// partition: key "customer-42" (partition 30): epoch 1 is stale, the partition's current epoch is 2
}

func ExamplePartitioner_Partition() {
	p, _ := partition.NewPartitioner(64)
	fmt.Println(p.Partition("customer-42"))
	// Output:
	// 30
}
