// Command failback shows a region coming back after a failover, and
// package resync bringing it and the region that served in its place back
// to one state without losing a write:
//
//  1. regions a and b replicate normally;
//  2. a is cut off from b, but its clients still reach it: it takes a few
//     writes that never ship (unshipped: b has not seen them);
//  3. b fails over and serves alone: new writes, and an edit of a payment
//     that a also edited (a conflict);
//  4. a returns: the program prints the dry-run plan (resync.Diff), applies
//     it, names a's unshipped writes and what became of each, shows the
//     conflict's loser in the lost-update ledger, and verifies both regions
//     equal (resync.Verify).
//
// There are two tables, one per strategy: payments, last-write-wins (an
// edit made in both regions keeps the later one, and the other goes to the
// ledger), and balances, a counter of exact decimals (crdt.PNCounter), where
// the credits of both regions add up and none is lost.
//
//	go run ./examples/failback
//	go run ./examples/failback -pg postgres://postgres@127.0.0.1:5432/postgres
//
// By default the regions are memstores in this process. With -pg each is
// a PostgreSQL database created for the run and dropped at the end. The
// regions' clocks read one manual wall clock, so that the output is the
// same on every run; on PostgreSQL only database names and changelog
// positions differ.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
)

// options is what a run does; main fills it from flags.
type options struct {
	pg string // PostgreSQL DSN; empty runs in memory
}

func main() {
	var opts options
	flag.StringVar(&opts.pg, "pg", "", "run on PostgreSQL at this DSN (a database per region is created and dropped); default: in memory")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, opts); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// start is when the story begins, by the manual wall clock both regions read.
var start = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func run(ctx context.Context, out io.Writer, opts options) error {
	wall := xregion.NewManualClock(start)
	storeA, storeB, about, closeStores, err := openStores(ctx, opts.pg, wall)
	if err != nil {
		return err
	}
	defer closeStores()
	a, err := newRegion(ctx, storeA, wall)
	if err != nil {
		return err
	}
	b, err := newRegion(ctx, storeB, wall)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Regions a and b, %s.\n", about)

	fmt.Fprintf(out, "\n1. a and b replicate normally.\n")
	if err := writeAll(ctx, out,
		write{a, payments, "pay-1001", `{"amount":"12.50","status":"authorized"}`},
		write{a, balances, "merchant-7", "12.50"},
	); err != nil {
		return err
	}
	if err := ship(ctx, out, a.store, b.store); err != nil {
		return err
	}
	if err := writeAll(ctx, out,
		write{b, payments, "pay-1002", `{"amount":"30.00","status":"authorized"}`},
		write{b, balances, "merchant-7", "30.00"},
	); err != nil {
		return err
	}
	if err := ship(ctx, out, b.store, a.store); err != nil {
		return err
	}

	wall.Advance(time.Minute)
	fmt.Fprintf(out, "\n2. a is cut off from b; its clients still reach it, and nothing it takes now ships.\n")
	if err := writeAll(ctx, out,
		write{a, payments, "pay-1003", `{"amount":"15.00","status":"authorized"}`},
		write{a, balances, "merchant-7", "15.00"},
		write{a, payments, "pay-1004", `{"amount":"8.00","status":"authorized"}`},
		write{a, balances, "merchant-7", "8.00"},
		write{a, payments, "pay-1002", `{"amount":"30.00","status":"disputed"}`},
	); err != nil {
		return err
	}
	wm, err := b.store.Watermark(ctx, a.name)
	if err != nil {
		return err
	}
	backlog, err := a.store.Backlog(ctx, wm, a.name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   unshipped: these %d changes in a's changelog lie past b's watermark for a\n", backlog.Changes)

	wall.Advance(5 * time.Minute)
	fmt.Fprintf(out, "\n3. b fails over and serves alone.\n")
	if err := writeAll(ctx, out,
		write{b, payments, "pay-2001", `{"amount":"40.00","status":"authorized"}`},
		write{b, balances, "merchant-7", "40.00"},
		write{b, payments, "pay-1002", `{"amount":"30.00","status":"settled"}`},
	); err != nil {
		return err
	}
	fmt.Fprintf(out, "   a edited pay-1002 too, and neither saw the other's edit: a conflict\n")

	wall.Advance(30 * time.Minute)
	fmt.Fprintf(out, "\n4. a returns. The dry run (resync.Diff) changes nothing:\n\n")
	tables := []resync.Table{
		{Name: payments, A: a.payments, B: b.payments},
		{Name: balances, A: a.balances, B: b.balances},
	}
	plan, err := diff(ctx, a, b, tables)
	if err != nil {
		return err
	}
	if err := plan.Print(out); err != nil {
		return err
	}
	return failback(ctx, out, a, b, tables, plan)
}

// failback applies the plan, says what became of a's unshipped writes and
// of the conflict, and verifies the regions equal.
func failback(ctx context.Context, out io.Writer, a, b *region, tables []resync.Table, plan *resync.Plan) error {
	applied, err := plan.Apply(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nApplied (Plan.Apply): records to a %d, to b %d (%d bytes); ledger entries added %d; watermarks moved past the gaps %d.\n",
		applied.ToA, applied.ToB, applied.Bytes, applied.LostCount, applied.Watermarks)

	fmt.Fprintf(out, "\na's unshipped writes, by key:\n")
	for _, t := range plan.Tables {
		for _, u := range t.Unshipped {
			if u.Region != a.name {
				continue
			}
			fate, err := fateOf(ctx, b, t.Table, u)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "   %-8s  %-10s  %s at %s: %s\n", t.Table, u.Key, u.Region, clock(u.Version), fate)
		}
	}

	fmt.Fprintf(out, "\nLost-update ledgers:\n")
	for _, r := range []*region{a, b} {
		lost, err := r.store.LostUpdates(ctx, 0, 100)
		if err != nil {
			return err
		}
		if len(lost) == 0 {
			fmt.Fprintf(out, "   %s: empty\n", r.name)
		}
		for _, l := range lost {
			fmt.Fprintf(out, "   %s: %s %s %s, written in %s at %s, lost (%s) to the write from %s at %s\n", r.name,
				l.Table, l.Lost.Key, l.Lost.Value, l.Lost.Version.Region, clock(l.Lost.Version), l.Reason, l.Winner.Region, clock(l.Winner))
		}
	}

	fmt.Fprintf(out, "\nBoth regions now hold:\n")
	pa, err := a.get(ctx, payments, "pay-1002")
	if err != nil {
		return err
	}
	pb, err := b.get(ctx, payments, "pay-1002")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s pay-1002: a %s, b %s\n", payments, pa.Value, pb.Value)
	ba, err := a.balance(ctx, "merchant-7")
	if err != nil {
		return err
	}
	bb, err := b.balance(ctx, "merchant-7")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s merchant-7: a %s, b %s (every credit of both regions, each once)\n", balances, ba, bb)

	// Writes stamped after the plan started would be listed as newer, not as
	// differences: replication carries them.
	v, err := resync.Verify(ctx, a.store, b.store, tables, resync.WithSince(plan.Started))
	if err != nil {
		return err // a *resync.VerifyError names the keys that differ
	}
	fmt.Fprintf(out, "\nVerify (resync.Verify, by digests of every record):\n")
	for _, t := range v.Tables {
		fmt.Fprintf(out, "   %-8s  compared %d, differ %d, newer than the plan %d\n", t.Table, t.Compared, t.DifferCount, t.NewerCount)
	}
	fmt.Fprintf(out, "a and b verified equal.\n")
	return nil
}

// fateOf says, for a person, what became of u, an unshipped write of a.
func fateOf(ctx context.Context, b *region, table string, u resync.Unshipped) (string, error) {
	switch u.Outcome {
	case resync.OutcomeApplied:
		if table == balances {
			bal, err := b.balance(ctx, u.Key)
			return "recovered, merged into b's balance: " + bal, err
		}
		rec, err := b.get(ctx, table, u.Key)
		return "recovered, b holds " + string(rec.Value), err
	case resync.OutcomeLost:
		return "lost the conflict to b's later edit: kept in a's lost-update ledger", nil
	case resync.OutcomeSuperseded:
		return "carried on by a's later write to the same key", nil
	case resync.OutcomeHeld:
		return "b held it already", nil
	}
	return string(u.Outcome), nil
}

// patience bounds how long ship and diff wait for changes that a
// transaction open elsewhere on a PostgreSQL server hides.
const patience = 30 * time.Second

// ship ships from's changes to `to` until it lacks none, and says how
// many. On PostgreSQL a transaction open anywhere on the server hides
// committed changes from Store.Changes until it ends, so one replicate.Ship
// may leave some for later, as a running replicator would; memstores never
// hide any.
func ship(ctx context.Context, out io.Writer, from, to xregion.Store) error {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	shipped := 0
	for {
		n, err := replicate.Ship(ctx, from, to)
		if err != nil {
			return err
		}
		shipped += n
		wm, err := to.Watermark(ctx, from.Region())
		if err != nil {
			return err
		}
		backlog, err := from.Backlog(ctx, wm, from.Region())
		if err != nil {
			return err
		}
		if backlog.Changes == 0 {
			fmt.Fprintf(out, "   shipped %s -> %s: %d changes\n", from.Region(), to.Region(), shipped)
			return nil
		}
		if err := pause(ctx); err != nil {
			return fmt.Errorf("ship %s to %s: %d changes still hidden: %w", from.Region(), to.Region(), backlog.Changes, err)
		}
	}
}

// diff is the dry run: resync.Diff, again until the plan saw every
// unshipped change. A plan lists only the changes Store.Changes returns and
// counts the others as Hidden (see ship).
func diff(ctx context.Context, a, b *region, tables []resync.Table) (*resync.Plan, error) {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	for {
		// The wall clock stamps Plan.Started, from which Verify tells newer
		// writes (which replication carries) from differences.
		plan, err := resync.Diff(ctx, a.store, b.store, tables, resync.WithWallClock(a.wall))
		if err != nil {
			return nil, err
		}
		hidden := plan.Hidden()
		if hidden == 0 {
			return plan, nil
		}
		if err := pause(ctx); err != nil {
			return nil, fmt.Errorf("resync plan: %d changes still hidden: %w", hidden, err)
		}
	}
}

// pause waits a moment, or until ctx ends.
func pause(ctx context.Context) error {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write is one write of the story: a payment stored, or an amount credited
// to a balance.
type write struct {
	r          *region
	table      string
	key, value string // value: the payment's JSON, or the amount credited
}

// writeAll makes the writes in order, a second apart, and prints each.
func writeAll(ctx context.Context, out io.Writer, ws ...write) error {
	for _, w := range ws {
		do, shown := w.r.pay, w.value
		if w.table == balances {
			do, shown = w.r.credit, "+"+w.value
		}
		rec, err := do(ctx, w.key, w.value)
		if err != nil {
			return fmt.Errorf("write %s %s in %s: %w", w.table, w.key, w.r.name, err)
		}
		fmt.Fprintf(out, "   %s  %s  %-8s  %-10s  %s\n", clock(rec.Version), w.r.name, w.table, w.key, shown)
	}
	return nil
}

// clock formats the wall time of v.
func clock(v xregion.Version) string {
	return time.Unix(0, v.Time.WallTime).UTC().Format("15:04:05")
}
