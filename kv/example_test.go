package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

// exampleRegion is an in-memory region whose wall clock the example moves
// by hand, with a last-write-wins kv table "state".
func exampleRegion(ctx context.Context, name xregion.Region, wall xregion.WallClock) (*memstore.Store, *xregion.Clock, *kv.Table) {
	clock, err := xregion.NewClock(wall)
	if err != nil {
		log.Fatal(err)
	}
	store, err := memstore.New(name, memstore.WithWallClock(wall))
	if err != nil {
		log.Fatal(err)
	}
	inner, err := lww.New(clock)
	if err != nil {
		log.Fatal(err)
	}
	table, err := kv.New(ctx, store, clock, "state", inner)
	if err != nil {
		log.Fatal(err)
	}
	return store, clock, table
}

// An entry with a TTL is gone from the instant its write's timestamp plus
// the TTL, in every region.
func Example() {
	ctx := context.Background()
	wall := xregion.NewManualClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	_, _, state := exampleRegion(ctx, "us-east-1", wall)

	if _, err := state.Put(ctx, "sessions", "s-42", []byte("token"), kv.TTL(15*time.Minute)); err != nil {
		log.Fatal(err)
	}
	e, err := state.Get(ctx, "sessions", "s-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s/%s = %s, expires at %s\n", e.Namespace, e.Key, e.Value, e.Expires.Format(time.TimeOnly))

	wall.Advance(15 * time.Minute)
	_, err = state.Get(ctx, "sessions", "s-42")
	fmt.Println("at 09:15:00 not found:", errors.Is(err, xregion.ErrNotFound))
	// Output:
	// sessions/s-42 = token, expires at 09:15:00
	// at 09:15:00 not found: true
}

// List reads a namespace's entries by key prefix, in key order, a page at
// a time.
func ExampleTable_List() {
	ctx := context.Background()
	_, _, state := exampleRegion(ctx, "us-east-1", xregion.NewManualClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)))
	for _, name := range []string{"2026/06/02.csv", "2026/05/31.csv", "2026/06/01.csv", "readme.txt"} {
		if _, err := state.Put(ctx, "exports", name, []byte("..."), kv.TTL(30*24*time.Hour)); err != nil {
			log.Fatal(err)
		}
	}
	q := kv.ListQuery{Prefix: "2026/", Limit: 2}
	for {
		page, err := state.List(ctx, "exports", q)
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range page {
			fmt.Println(e.Key)
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].Key
	}
	// Output:
	// 2026/05/31.csv
	// 2026/06/01.csv
	// 2026/06/02.csv
}

// A service handles a message once, however often it is delivered within
// a day.
func ExampleIdempotency_Seen() {
	ctx := context.Background()
	_, _, state := exampleRegion(ctx, "us-east-1", xregion.SystemClock{})
	messages, err := kv.NewIdempotency(state, "messages")
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"msg-1", "msg-2", "msg-1"} {
		seen, err := messages.Seen(ctx, id, 24*time.Hour)
		if err != nil {
			log.Fatal(err)
		}
		if seen {
			fmt.Println(id, "duplicate: skipped")
			continue
		}
		fmt.Println(id, "handled")
	}
	// Output:
	// msg-1 handled
	// msg-2 handled
	// msg-1 duplicate: skipped
}

// A job saves its position in us-east-1 through replicate.Sync (Tier 1),
// so that when us-east-1 is lost, us-west-2 resumes from the last
// position saved.
func ExampleCheckpoints() {
	ctx := context.Background()
	west, _, westState := exampleRegion(ctx, "us-west-2", xregion.SystemClock{})

	eastClock, _ := xregion.NewClock(xregion.SystemClock{})
	east, _ := memstore.New("us-east-1")
	sync, err := replicate.NewSync(east, eastClock, []xregion.Store{west}, replicate.WithTier(replicate.Tier1))
	if err != nil {
		log.Fatal(err)
	}
	inner, _ := lww.New(eastClock)
	eastState, err := kv.New(ctx, east, eastClock, "state", inner, kv.WithWriter(sync))
	if err != nil {
		log.Fatal(err)
	}
	eastJobs, _ := kv.NewCheckpoints(eastState, "jobs")
	for item := int64(1); item <= 25; item++ {
		// ... process item ...
		if item%10 == 0 {
			if err := eastJobs.Save(ctx, "nightly-export", item); err != nil {
				log.Fatal(err)
			}
		}
	}
	sync.Close() // us-east-1 is lost after item 25

	// us-west-2 takes over: it applies what us-east-1 staged in it first.
	if _, err := west.ApplyStaged(ctx); err != nil {
		log.Fatal(err)
	}
	westJobs, _ := kv.NewCheckpoints(westState, "jobs")
	cp, ok, err := westJobs.Load(ctx, "nightly-export")
	if err != nil || !ok {
		log.Fatal(ok, err)
	}
	fmt.Printf("resume after item %d, saved in %s\n", cp.Position, cp.Version.Region)
	// Output: resume after item 20, saved in us-east-1
}
