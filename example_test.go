package xregion_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/xregion/xregion"
)

// A Clock never goes backwards: when the wall clock stands still or jumps
// back, the logical counter moves on instead.
func ExampleClock() {
	wall := xregion.NewManualClock(time.Unix(1_700_000_000, 0))
	clock, err := xregion.NewClock(wall) // xregion.SystemClock{} in production
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(clock.Now())
	fmt.Println(clock.Now()) // the wall clock has not moved
	wall.Advance(-time.Second)
	fmt.Println(clock.Now()) // it jumped backwards
	wall.Advance(2 * time.Second)
	fmt.Println(clock.Now()) // it passed the last timestamp
	// Output:
	// 1700000000.000000000,0
	// 1700000000.000000000,1
	// 1700000000.000000000,2
	// 1700000001.000000000,0
}

// Update folds in a timestamp seen from another region, so that what this
// region writes next is stamped after it, and refuses one from a clock too
// far ahead.
func ExampleClock_Update() {
	wall := xregion.NewManualClock(time.Unix(1_700_000_000, 0))
	clock, err := xregion.NewClock(wall) // DefaultMaxOffset: 500 ms
	if err != nil {
		log.Fatal(err)
	}
	near := xregion.Timestamp{WallTime: wall.Now().Add(200 * time.Millisecond).UnixNano(), Logical: 4}
	fmt.Println(clock.Update(near))
	fmt.Println(clock.Now())

	far := xregion.Timestamp{WallTime: wall.Now().Add(time.Second).UnixNano()}
	err = clock.Update(far)
	fmt.Println(errors.Is(err, xregion.ErrClockOffset))
	fmt.Println(err)
	// Output:
	// <nil>
	// 1700000000.200000000,5
	// true
	// xregion: remote timestamp 1700000001.000000000,0 is 1s ahead of the local clock, more than the maximum offset 500ms
}

// Versions with equal timestamps are ordered by region name, so every
// region picks the same winner.
func ExampleVersion_Compare() {
	ts := xregion.Timestamp{WallTime: 1_700_000_000_000_000_000}
	east := xregion.Version{Time: ts, Region: "us-east-1"}
	west := xregion.Version{Time: ts, Region: "eu-west-1"}
	fmt.Println(east.Compare(west), west.Less(east))
	fmt.Println(east.Less(xregion.Version{Time: ts.Next(), Region: "eu-west-1"}))
	// Output:
	// 1 true
	// true
}

// Bytes from another region are decoded with DecodeRecord, which refuses
// anything malformed with an error wrapping ErrCorrupt.
func ExampleDecodeRecord() {
	rec := xregion.Record{
		Key:     "customer/42",
		Value:   []byte("7 Oak Ave"),
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1_700_000_000_000_000_000}, Region: "us-east-1"},
	}
	b := xregion.AppendRecord(nil, rec)
	got, err := xregion.DecodeRecord(b)
	fmt.Println(got.Key, string(got.Value), got.Version, err)

	_, err = xregion.DecodeRecord(b[:len(b)-1]) // truncated in transit
	fmt.Println(errors.Is(err, xregion.ErrCorrupt))
	fmt.Println(err)
	// Output:
	// customer/42 7 Oak Ave 1700000000.000000000,0@us-east-1 <nil>
	// true
	// xregion: corrupt record at byte 51: length 9 but 8 bytes left
}
