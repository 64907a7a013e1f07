package crdt_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

const (
	east xregion.Region = "us-east-1"
	west xregion.Region = "eu-west-1"
)

func ExampleGCounter() {
	var e, w crdt.GCounter // each region's copy
	d, _ := e.Inc(east, 3)
	e = e.Merge(d)
	d, _ = w.Inc(west, 2)
	w = w.Merge(d)
	// Merged either way, and as often as you like: 5.
	fmt.Println(e.Merge(w).Value(), w.Merge(e).Value(), e.Merge(w).Merge(w).Value())
	// Output: 5 5 5
}

func ExamplePNCounter() {
	spend, err := crdt.NewPNCounter(18, 2) // NUMERIC(18, 2): cents
	if err != nil {
		panic(err)
	}
	e, w := spend, spend
	add := func(c *crdt.PNCounter, r xregion.Region, amount string) {
		a, _, _ := apd.NewFromString(amount)
		d, err := c.Add(r, a)
		if err != nil {
			panic(err)
		}
		*c = c.Merge(d)
	}
	add(&e, east, "19.99")
	add(&w, west, "0.10")
	add(&w, west, "0.20")
	add(&e, east, "-5.00") // a refund
	fmt.Println(e.Merge(w).Value())

	_, err = spend.Add(east, apd.New(1, -3)) // 0.001: would need rounding
	fmt.Println(err)
	var se *crdt.ScaleError
	fmt.Println(errors.As(err, &se), errors.Is(err, crdt.ErrScale))
	// Output:
	// 15.29
	// crdt: amount 0.001 has 3 decimal places; the counter's scale is 2
	// true true
}

func ExampleBoundedCounter() {
	apply := func(c *crdt.BoundedCounter, d crdt.BoundedCounter, err error) {
		if err != nil {
			panic(err)
		}
		*c = c.Merge(d)
	}
	// 10 units of stock arrive in us-east-1, which hands 4 of its rights to
	// eu-west-1 so both can sell without asking.
	var stock crdt.BoundedCounter
	d, err := stock.Inc(east, 10)
	apply(&stock, d, err)
	d, err = stock.Transfer(east, west, 4)
	apply(&stock, d, err)

	// The regions sell concurrently, each within its rights.
	e, w := stock, stock
	d, err = e.Dec(east, 6)
	apply(&e, d, err)
	d, err = w.Dec(west, 4)
	apply(&w, d, err)
	_, err = w.Dec(west, 1)
	fmt.Println(err)
	var ie *crdt.InsufficientRightsError
	if errors.As(err, &ie) {
		fmt.Println("eu-west-1 holds", ie.Rights, "rights; us-east-1 holds", e.Rights(east))
	}
	fmt.Println("stock:", e.Merge(w).Value())
	// Output:
	// crdt: decrement of 1 in region eu-west-1 refused: the region holds 0 rights
	// eu-west-1 holds 0 rights; us-east-1 holds 0
	// stock: 0
}

func ExampleLWWRegister() {
	at := func(ms int, r xregion.Region) xregion.Version {
		return xregion.Version{Time: xregion.Timestamp{WallTime: int64(ms) * 1e6}, Region: r}
	}
	var reg crdt.LWWRegister
	a, _ := reg.Set(at(100, east), []byte("blue"))
	b, _ := reg.Set(at(120, west), []byte("green"))
	v, _ := a.Merge(b).Value()
	fmt.Println(string(v), a.Merge(b).Version().Region)
	// Output: green eu-west-1
}

func ExampleMVRegister() {
	var addr crdt.MVRegister
	d, _ := addr.Set(east, []byte("12 Main St"))
	addr = addr.Merge(d)

	// Two regions correct the address at once: neither edit is dropped.
	e, _ := addr.Set(east, []byte("12 Main Street"))
	w, _ := addr.Set(west, []byte("14 Main St"))
	both := addr.Merge(e).Merge(w)
	fmt.Printf("%q\n", both.Values())

	// Someone settles it; the write replaces everything it saw.
	d, _ = both.Set(west, []byte("14 Main Street"))
	fmt.Printf("%s\n", both.Merge(d).Values())
	// Output:
	// ["12 Main Street" "14 Main St"]
	// [14 Main Street]
}

func ExampleORSet() {
	var cart crdt.ORSet
	d, _ := cart.AddAll(east, "book", "pen")
	cart = cart.Merge(d)

	// us-east-1 removes the pen while eu-west-1, concurrently, adds it
	// again and adds ink: the add the remove did not see wins.
	e := cart.Merge(cart.Remove("pen"))
	w := cart
	d, _ = w.AddAll(west, "pen", "ink")
	w = w.Merge(d)
	fmt.Println(e.Elements(), w.Elements(), e.Merge(w).Elements())

	// A remove that saw every add removes the element everywhere.
	m := e.Merge(w)
	fmt.Println(m.Merge(m.Remove("pen")).Merge(w).Elements())
	// Output:
	// [book] [book ink pen] [book ink pen]
	// [book ink]
}

func ExampleORMap() {
	var customer crdt.ORMap
	update := func(r xregion.Region, name string, delta crdt.State) {
		d, err := customer.Update(r, name, delta)
		if err != nil {
			panic(err)
		}
		customer = customer.Merge(d)
	}
	tags, _ := crdt.Get[crdt.ORSet](customer, "tags")
	d, _ := tags.Add(east, "vip")
	update(east, "tags", d)
	visits, _ := crdt.Get[crdt.GCounter](customer, "visits")
	v, _ := visits.Inc(west, 3)
	update(west, "visits", v)
	email, _ := crdt.Get[crdt.LWWRegister](customer, "email")
	e, _ := email.Set(xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: east}, []byte("ada@example.com"))
	update(east, "email", e)

	for _, k := range customer.Keys() {
		fmt.Println(k.Name, k.Type)
	}
	tags, _ = crdt.Get[crdt.ORSet](customer, "tags")
	visits, _ = crdt.Get[crdt.GCounter](customer, "visits")
	fmt.Println(tags.Elements(), visits.Value())
	// Output:
	// email lwwregister
	// tags orset
	// visits gcounter
	// [vip] 3
}

func ExampleResolver() {
	clock, _ := xregion.NewClock(xregion.SystemClock{})
	resolver, err := crdt.NewResolver(east, clock)
	if err != nil {
		panic(err)
	}
	now := clock.Now()
	views := func(r xregion.Region, n uint64, ms int64) xregion.Record {
		d, _ := crdt.GCounter{}.Inc(r, n)
		value, _ := crdt.Encode(d) // fails only for a nil state
		return xregion.Record{Key: "page/home", Value: value,
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: now.WallTime - ms*1e6}, Region: r}}
	}
	stored := views(east, 5, 20) // what us-east-1 holds
	incoming := views(west, 7, 10)
	res, err := resolver.Resolve(stored, incoming)
	if err != nil {
		panic(err)
	}
	merged, _ := crdt.DecodeAs[crdt.GCounter](res.Record.Value)
	fmt.Println(res.Changed, merged.Value(), res.Record.Version.Region, res.Lost == nil)

	// Applying the same write again changes nothing.
	again, _ := resolver.Resolve(res.Record, incoming)
	fmt.Println(again.Changed)
	// Output:
	// true 12 eu-west-1 true
	// false
}

// Example_crdt: a cart table on two regions that cannot see each other for
// a while. Both add to the same cart; once they exchange changelogs, both
// hold both items, and nothing is in any lost-update ledger.
func Example_crdt() {
	ctx := context.Background()
	e, w := newExampleRegion(east), newExampleRegion(west)
	for _, r := range []*exampleRegion{e, w} {
		resolver, _ := crdt.NewResolver(r.name, r.clock)
		_ = r.store.DefineTable(ctx, "carts", resolver)
	}
	addToCart := func(r *exampleRegion, sku string) {
		var cart crdt.ORSet
		rec, err := r.store.Get(ctx, "carts", "cart/42")
		if err == nil {
			cart, _ = crdt.DecodeAs[crdt.ORSet](rec.Value)
		}
		d, _ := cart.Add(r.name, sku)
		wr, _ := crdt.Write(r.clock, r.name, "cart/42", rec.Version, d)
		if _, err := r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "carts", Record: wr}}}); err != nil {
			panic(err)
		}
	}
	addToCart(e, "book")
	addToCart(w, "lamp")
	_, _ = replicate.Ship(ctx, e.store, w.store)
	_, _ = replicate.Ship(ctx, w.store, e.store)
	for _, r := range []*exampleRegion{e, w} {
		rec, _ := r.store.Get(ctx, "carts", "cart/42")
		cart, _ := crdt.DecodeAs[crdt.ORSet](rec.Value)
		lost, _ := r.store.LostUpdates(ctx, 0, 10)
		fmt.Println(r.name, cart.Elements(), "lost:", len(lost))
	}
	// Output:
	// us-east-1 [book lamp] lost: 0
	// eu-west-1 [book lamp] lost: 0
}

// Example_lastWriteWins: the same situation on a last-write-wins table
// (package lww): the record is replaced whole, one edit wins everywhere,
// and the other goes to the lost-update ledger, to be looked at.
func Example_lastWriteWins() {
	ctx := context.Background()
	e, w := newExampleRegion(east), newExampleRegion(west)
	for _, r := range []*exampleRegion{e, w} {
		resolver, _ := lww.New(r.clock)
		_ = r.store.DefineTable(ctx, "profiles", resolver)
	}
	e.wall.Advance(time.Millisecond) // us-east-1 writes a little later
	for _, x := range []struct {
		r     *exampleRegion
		email string
	}{{w, "ada@west.example.com"}, {e, "ada@east.example.com"}} {
		wr := xregion.Record{Key: "customer/42", Value: []byte(x.email),
			Version: xregion.Version{Time: x.r.clock.Now(), Region: x.r.name}}
		_, _ = x.r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "profiles", Record: wr}}})
	}
	_, _ = replicate.Ship(ctx, e.store, w.store)
	_, _ = replicate.Ship(ctx, w.store, e.store)
	for _, r := range []*exampleRegion{e, w} {
		rec, _ := r.store.Get(ctx, "profiles", "customer/42")
		lost, _ := r.store.LostUpdates(ctx, 0, 10)
		fmt.Printf("%s holds %s; its ledger holds %s from %s\n", r.name, rec.Value, lost[0].Lost.Value, lost[0].Lost.Version.Region)
	}
	// Output:
	// us-east-1 holds ada@east.example.com; its ledger holds ada@west.example.com from eu-west-1
	// eu-west-1 holds ada@east.example.com; its ledger holds ada@west.example.com from eu-west-1
}

// Example_singleWriter: the last seat on a flight, sold in two regions at
// once. A PN counter merges both sales and oversells. A bounded counter
// sells only where the seat's right is, which works for a seat but not for
// what must be decided in one place (a payment against a balance, a unique
// name). A single-writer table (package partition) homes the flight in one
// region: the sale made elsewhere is refused with the home's name and sent
// there, and the home, which sees every earlier sale, refuses the second.
func Example_singleWriter() {
	ctx := context.Background()
	one := apd.New(-1, 0)
	seats, _ := crdt.NewPNCounter(4, 0)
	d, _ := seats.Add(east, apd.New(1, 0))
	seats = seats.Merge(d)
	e, _ := seats.Add(east, one)
	w, _ := seats.Add(west, one)
	fmt.Println("pncounter seats left:", seats.Merge(e).Merge(w).Value())

	var bounded crdt.BoundedCounter
	b, _ := bounded.Inc(east, 1) // the seat's right is in us-east-1
	bounded = bounded.Merge(b)
	be, errEast := bounded.Dec(east, 1)
	_, errWest := bounded.Dec(west, 1)
	fmt.Println("boundedcounter:", errEast == nil, errors.Is(errWest, crdt.ErrInsufficientRights), "seats left:", bounded.Merge(be).Value())

	// The single-writer table: a Guard around last-write-wins, and one
	// Router per region over the replicated ownership map.
	regions := []*exampleRegion{newExampleRegion(east), newExampleRegion(west)}
	routers := map[xregion.Region]*partition.Router{}
	for _, r := range regions {
		router, err := partition.New(ctx, r.store, r.clock, 16)
		if err != nil {
			panic(err)
		}
		inner, _ := lww.New(r.clock)
		guard, _ := partition.NewGuard(router, inner)
		_ = r.store.DefineTable(ctx, "flights", guard)
		routers[r.name] = router
	}
	if _, err := routers[east].Bootstrap(ctx, func(int) xregion.Region { return east }); err != nil {
		panic(err)
	}
	// sell sells a seat of flight XR12 in r: a read-modify-write that only
	// the flight's home may make.
	sell := func(r *exampleRegion) error {
		rec := xregion.Record{Key: "flight/XR12", Value: []byte("1")} // one seat when the flight opens
		if held, err := r.store.Get(ctx, "flights", rec.Key); err == nil {
			rec.Value, rec.Base = held.Value, held.Version
		}
		rec, err := routers[r.name].Stamp(rec)
		if err != nil {
			return err
		}
		if string(rec.Value) == "0" {
			return errors.New("sold out")
		}
		rec.Value = []byte("0")
		rec.Version = xregion.Version{Time: r.clock.Now(), Region: r.name}
		_, err = r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "flights", Record: rec}}})
		return err
	}
	_, _ = replicate.Ship(ctx, regions[0].store, regions[1].store)
	fmt.Println("us-east-1 sells:", sell(regions[0]))
	err := sell(regions[1])
	home, _ := partition.HomeOf(err)
	fmt.Println("eu-west-1 sells:", errors.Is(err, partition.ErrNotHome), "send it to", home)
	fmt.Println("us-east-1 sells eu-west-1's sale:", sell(regions[0]))
	// Output:
	// pncounter seats left: -1
	// boundedcounter: true true seats left: 0
	// us-east-1 sells: <nil>
	// eu-west-1 sells: true send it to us-east-1
	// us-east-1 sells eu-west-1's sale: sold out
}

// exampleRegion is a region of the examples: an in-memory store and the
// clock that stamps its writes.
type exampleRegion struct {
	name  xregion.Region
	store xregion.Store
	wall  *xregion.ManualClock
	clock *xregion.Clock
}

func newExampleRegion(name xregion.Region) *exampleRegion {
	wall := xregion.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	clock, _ := xregion.NewClock(wall)
	store, err := memstore.New(name)
	if err != nil {
		panic(err)
	}
	return &exampleRegion{name: name, store: store, wall: wall, clock: clock}
}
