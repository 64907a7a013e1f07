package resync_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/memstore"
)

// Region us-east-1 was cut off while it still took a payment; us-west-2
// served alone meanwhile. When us-east-1 returns, Diff shows the plan and
// Run applies and verifies it: the unshipped payment reaches us-west-2.
func Example() {
	ctx := context.Background()
	wall := xregion.NewManualClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	open := func(name xregion.Region) (xregion.Store, *xregion.Clock, xregion.Resolver) {
		st, _ := memstore.New(name)
		clock, _ := xregion.NewClock(wall)
		r, _ := lww.New(clock)
		st.DefineTable(ctx, "payments", r)
		return st, clock, r
	}
	east, eastClock, eastLWW := open("us-east-1")
	west, westClock, westLWW := open("us-west-2")
	write := func(st xregion.Store, clock *xregion.Clock, key, value string) {
		wall.Advance(time.Second)
		v, _ := clock.Stamp(st.Region(), xregion.Version{})
		st.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "payments", Record: xregion.Record{Key: key, Value: []byte(value), Version: v}}}})
	}
	write(east, eastClock, "pay-1", "12.50") // never shipped: east is cut off
	write(west, westClock, "pay-2", "40.00") // west serves alone

	tables := []resync.Table{{Name: "payments", A: eastLWW, B: westLWW}}
	plan, _ := resync.Diff(ctx, east, west, tables)
	for _, u := range plan.Tables[0].Unshipped {
		fmt.Printf("unshipped: %s from %s, %s\n", u.Key, u.Region, u.Outcome)
	}
	rep, err := resync.Run(ctx, east, west, tables, resync.WithWallClock(wall))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Printf("moved %d to us-east-1, %d to us-west-2; equal: %v\n", rep.Applied.ToA, rep.Applied.ToB, rep.Verified.Equal())
	// Output:
	// unshipped: pay-1 from us-east-1, applied
	// unshipped: pay-2 from us-west-2, applied
	// moved 1 to us-east-1, 1 to us-west-2; equal: true
}
