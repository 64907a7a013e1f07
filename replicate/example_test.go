package replicate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

// region builds an in-memory region with a last-write-wins "payments" table.
func region(name xregion.Region) (xregion.Store, *xregion.Clock) {
	clock, _ := xregion.NewClock(xregion.SystemClock{})
	store, _ := memstore.New(name)
	resolver, _ := lww.New(clock)
	store.DefineTable(context.Background(), "payments", resolver)
	return store, clock
}

// A Tier 1 write returns once the peer holds it: losing the writing region
// now would lose nothing.
func ExampleNewSync() {
	ctx := context.Background()
	east, clock := region("us-east-1")
	west, _ := region("us-west-2")

	rep, err := replicate.NewSync(east, clock, []xregion.Store{west}, replicate.WithTier(replicate.Tier1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rep.Close()

	payment := xregion.Write{Table: "payments", Record: xregion.Record{Key: "pay-1001", Value: []byte(`{"eur":"12.50"}`)}}
	if err := rep.Write(ctx, payment); err != nil {
		fmt.Println("not acknowledged:", err)
		return
	}
	staged, _ := west.(xregion.Stager).Staged(ctx)
	lags, _ := rep.Lag(ctx)
	fmt.Printf("acknowledged; us-west-2 holds it (staged or applied: %v); RPO %s\n", staged > 0 || applied(west, "pay-1001"), lags[0].RPO)
	// Output: acknowledged; us-west-2 holds it (staged or applied: true); RPO 0s
}

func applied(s xregion.Store, key string) bool {
	_, err := s.Get(context.Background(), "payments", key)
	return err == nil
}

// Building a replicator for a tier it cannot meet is refused, with the fix.
func ExampleWithTier() {
	east, clock := region("us-east-1")
	west, _ := region("us-west-2")
	_, err := replicate.NewAsync(east, clock, []xregion.Store{west}, replicate.WithTier(replicate.Tier1))
	fmt.Println(err)
	// Output: replicate: tier1 cannot meet its RPO 0s: the asynchronous strategy acknowledges writes before any peer has them; use NewSync with the Strict policy
}

// An asynchronous peer's lag: what it lacks, and for how long.
func ExampleAsync_Lag() {
	ctx := context.Background()
	east, clock := region("us-east-1")
	west, _ := region("us-west-2")
	rep, _ := replicate.NewAsync(east, clock, []xregion.Store{west}, replicate.WithTier(replicate.Tier2))
	defer rep.Close()

	rep.Write(ctx, xregion.Write{Table: "payments", Record: xregion.Record{Key: "pay-1", Value: []byte("x")}})
	// Shipping runs in the replicator's goroutines: look until it is done.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if lags, _ := rep.Lag(ctx); lags[0].Pending == 0 {
			fmt.Printf("%s: pending %d, RPO %s, state %s\n", lags[0].Peer, lags[0].Pending, lags[0].RPO, lags[0].State)
			return
		}
	}
	// Output: us-west-2: pending 0, RPO 0s, state shipping
}

// Retention run by the caller, once: the changes both peers applied go;
// those the dark peer lacks stay, up to the limit, and past it the peer is
// named and needs a resync.
func ExampleRetain() {
	ctx := context.Background()
	east, _ := region("us-east-1")
	west, _ := region("us-west-2")
	south, _ := region("sa-east-1")
	for i := range 10 {
		pay := xregion.Record{Key: fmt.Sprintf("pay-%d", 1000+i), Value: []byte(`{"eur":"12.50"}`),
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: time.Now().UnixNano()}, Region: "us-east-1"}}
		east.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "payments", Record: pay}}})
		if i == 4 {
			replicate.Ship(ctx, east, south) // then sa-east-1 goes dark
		}
	}
	replicate.Ship(ctx, east, west)

	peers := []xregion.Store{west, south}
	rep, _ := replicate.Retain(ctx, east, peers, replicate.Retention{})
	fmt.Printf("removed %d changes; sa-east-1 lacks the other %d\n", rep.Changes, 10-rep.Changes)

	// Each change is 23 bytes of key and value: a limit of 50 keeps two.
	rep, _ = replicate.Retain(ctx, east, peers, replicate.Retention{MaxUnconfirmed: 50},
		replicate.WithAlerts(func(a replicate.Alert) { fmt.Println("alert:", a.Kind, a.Peer) }))
	fmt.Printf("removed %d more past the limit; resync %v\n", rep.Changes, rep.Truncated)
	// Output:
	// removed 5 changes; sa-east-1 lacks the other 5
	// alert: changes removed unapplied: resync needed sa-east-1
	// removed 3 more past the limit; resync [sa-east-1]
}
