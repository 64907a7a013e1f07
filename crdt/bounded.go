package crdt

import (
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"

	"github.com/xregion/xregion"
)

// BoundedCounter is a non-negative counter, such as stock on hand or a
// credit line, that regions decrement without asking each other (escrow,
// as AntidoteDB's bounded counter). The balance is split into rights held by
// regions: an increment in a region gives that region as many rights, a
// decrement spends the region's own rights, and a region can transfer
// rights to another. A decrement beyond the region's rights fails with an
// *InsufficientRightsError that says how many it has: the region must wait
// for a transfer, or send the request where the rights are.
//
// Why the value cannot go below zero: every entry of the state (a region's
// increments, its decrements, its transfers to each other region) is written
// by one region only and only grows, and a region spends only rights its
// own view shows. The delta of a decrement or a transfer is that whole view
// with the spending in it (a few numbers per region), not the spending
// alone; an increment's delta, which only adds, is the increment alone. So
// anything holding a region's latest spending also holds the view that
// spending counted on: any merge of states and deltas, in any order, gives
// each region at least the rights it counted on, and the sum of rights,
// which is the value, is never negative. This needs one writer per replica
// id (see the package HAZARDs); it does not need deltas delivered in order,
// which matters because a synchronous replicator stages and applies the
// records a writer made (deltas), not the states a store merged.
//
// The zero BoundedCounter holds 0, ready to use. A BoundedCounter is an
// immutable value, safe for concurrent use.
type BoundedCounter struct {
	entries   []boundedEntry // sorted by region; inc or dec > 0
	transfers []transfer     // sorted by (from, to); from != to; n > 0
}

type boundedEntry struct {
	region   xregion.Region
	inc, dec uint64
}

type transfer struct {
	from, to xregion.Region
	n        uint64
}

func (t transfer) compare(u transfer) int {
	if c := cmpRegion(t.from, u.from); c != 0 {
		return c
	}
	return cmpRegion(t.to, u.to)
}

// Type returns TypeBoundedCounter.
func (BoundedCounter) Type() Type { return TypeBoundedCounter }

// Value returns the balance: every increment minus every decrement. It is
// never below zero. Increments made concurrently in several regions could
// together pass 2^64-1; the value then stays at 2^64-1.
func (c BoundedCounter) Value() uint64 { return clamp(c.totals()) }

// totals returns the sums of the increments and of the decrements. For
// states built by this package's operations the first is never smaller
// (the tests hold them to that).
func (c BoundedCounter) totals() (plus, minus u128) {
	for _, e := range c.entries {
		plus, minus = plus.add(e.inc), minus.add(e.dec)
	}
	return plus, minus
}

// Rights returns the rights region r holds: what it may decrement or
// transfer without coordination.
func (c BoundedCounter) Rights(r xregion.Region) uint64 { return clamp(c.rights(r)) }

// rights returns what adds to region r's rights (its increments, the
// transfers it received) and what takes from them (its decrements, the
// transfers it made).
func (c BoundedCounter) rights(r xregion.Region) (plus, minus u128) {
	if e, ok := c.entry(r); ok {
		plus, minus = plus.add(e.inc), minus.add(e.dec)
	}
	for _, t := range c.transfers {
		switch r {
		case t.to:
			plus = plus.add(t.n)
		case t.from:
			minus = minus.add(t.n)
		}
	}
	return plus, minus
}

// clamp returns plus - minus within [0, 2^64-1].
func clamp(plus, minus u128) uint64 {
	if plus.less(minus) {
		return 0
	}
	d := plus.sub(minus)
	if d.hi != 0 {
		return math.MaxUint64
	}
	return d.lo
}

// u128 is an unsigned 128-bit integer: sums of at most 2^64 uint64s, with
// room to spare, without allocating.
type u128 struct{ hi, lo uint64 }

func (a u128) add(x uint64) u128 {
	lo, carry := bits.Add64(a.lo, x, 0)
	return u128{a.hi + carry, lo}
}

func (a u128) sub(b u128) u128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	return u128{a.hi - b.hi - borrow, lo}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) String() string {
	return new(big.Int).Add(new(big.Int).Lsh(new(big.Int).SetUint64(a.hi), 64), new(big.Int).SetUint64(a.lo)).String()
}

func (c BoundedCounter) entry(r xregion.Region) (boundedEntry, bool) {
	i, ok := slices.BinarySearchFunc(c.entries, r, func(e boundedEntry, r xregion.Region) int { return cmpRegion(e.region, r) })
	if !ok {
		return boundedEntry{}, false
	}
	return c.entries[i], true
}

func (c BoundedCounter) sent(from, to xregion.Region) uint64 {
	i, ok := slices.BinarySearchFunc(c.transfers, transfer{from: from, to: to}, transfer.compare)
	if !ok {
		return 0
	}
	return c.transfers[i].n
}

// regions returns every region the state names, sorted.
func (c BoundedCounter) regions() regionTable {
	t := make(regionTable, 0, len(c.entries)+2*len(c.transfers))
	for _, e := range c.entries {
		t = append(t, e.region)
	}
	for _, tr := range c.transfers {
		t = append(t, tr.from, tr.to)
	}
	slices.Sort(t)
	return slices.Compact(t)
}

// checkNewRegions refuses an operation that would make the state name more
// than MaxReplicas regions.
func (c BoundedCounter) checkNewRegions(what string, rs ...xregion.Region) error {
	table := c.regions()
	n := len(table)
	for _, r := range slices.Compact(slices.Sorted(slices.Values(rs))) {
		if _, ok := slices.BinarySearch(table, r); !ok {
			n++
		}
	}
	if n > MaxReplicas {
		return invalid(what, "the counter would name %d regions; the limit is %d", n, MaxReplicas)
	}
	return nil
}

// Inc returns the delta that adds n to the balance in region r, giving r n
// more rights: merge it into c to apply it. Errors: an
// *xregion.InvalidError for an invalid region or too many regions; an
// *OverflowError if the balance would pass 2^64-1.
func (c BoundedCounter) Inc(r xregion.Region, n uint64) (BoundedCounter, error) {
	if err := r.Validate(); err != nil {
		return BoundedCounter{}, err
	}
	if n == 0 {
		return BoundedCounter{}, nil
	}
	if err := c.checkNewRegions("boundedcounter increment", r); err != nil {
		return BoundedCounter{}, err
	}
	// The increments of all regions must stay within 64 bits, so that the
	// balance does: the sum is taken exactly, as merges of concurrent
	// increments may already have passed the limit.
	plus, _ := c.totals()
	if total := plus.add(n); total.hi != 0 {
		return BoundedCounter{}, &OverflowError{What: "boundedcounter increments", Value: total.String(), Limit: strconv.FormatUint(math.MaxUint64, 10)}
	}
	e, _ := c.entry(r)
	return BoundedCounter{entries: []boundedEntry{{region: r, inc: e.inc + n}}}, nil
}

// Dec returns the delta that takes n from the balance in region r, spending
// r's rights: merge it into c to apply it. The delta is c with the
// decrement in it, so that a region merging it without having seen the
// increments and transfers it spends receives them too. Errors: an
// *InsufficientRightsError if r holds fewer than n rights in c; an
// *xregion.InvalidError for an invalid region.
func (c BoundedCounter) Dec(r xregion.Region, n uint64) (BoundedCounter, error) {
	if err := r.Validate(); err != nil {
		return BoundedCounter{}, err
	}
	if n == 0 {
		return BoundedCounter{}, nil
	}
	if have := c.Rights(r); have < n {
		return BoundedCounter{}, &InsufficientRightsError{Region: r, Rights: have, Want: n, Op: "decrement"}
	}
	e, _ := c.entry(r)
	// Rights of at least n mean the increments and incoming transfers cover
	// dec+n, but not that it fits 64 bits.
	if _, carry := bits.Add64(e.dec, n, 0); carry != 0 {
		return BoundedCounter{}, &OverflowError{What: "boundedcounter decrements of region " + string(r), Value: "over 2^64", Limit: strconv.FormatUint(math.MaxUint64, 10)}
	}
	return c.Merge(BoundedCounter{entries: []boundedEntry{{region: r, inc: e.inc, dec: e.dec + n}}}), nil
}

// Transfer returns the delta that moves n of from's rights to region to:
// merge it into c to apply it. Only the region holding the rights may
// transfer them, so from is the region making the call. The balance does
// not change. Like Dec's, the delta is c with the transfer in it. Errors:
// an *InsufficientRightsError if from holds fewer than n rights in c; an
// *xregion.InvalidError for an invalid region, from equal to to, or too
// many regions.
func (c BoundedCounter) Transfer(from, to xregion.Region, n uint64) (BoundedCounter, error) {
	if err := from.Validate(); err != nil {
		return BoundedCounter{}, err
	}
	if err := to.Validate(); err != nil {
		return BoundedCounter{}, err
	}
	if from == to {
		return BoundedCounter{}, invalid("boundedcounter transfer", "from %s to itself", from)
	}
	if n == 0 {
		return BoundedCounter{}, nil
	}
	if have := c.Rights(from); have < n {
		return BoundedCounter{}, &InsufficientRightsError{Region: from, Rights: have, Want: n, Op: "transfer"}
	}
	if err := c.checkNewRegions("boundedcounter transfer", from, to); err != nil {
		return BoundedCounter{}, err
	}
	old := c.sent(from, to)
	if _, carry := bits.Add64(old, n, 0); carry != 0 {
		return BoundedCounter{}, &OverflowError{What: "boundedcounter transfers from " + string(from) + " to " + string(to), Value: "over 2^64", Limit: strconv.FormatUint(math.MaxUint64, 10)}
	}
	return c.Merge(BoundedCounter{transfers: []transfer{{from: from, to: to, n: old + n}}}), nil
}

// Merge returns the join of c and o: every entry at its larger value.
func (c BoundedCounter) Merge(o BoundedCounter) BoundedCounter {
	return BoundedCounter{
		entries: mergeSorted(c.entries, o.entries,
			func(a, b boundedEntry) int { return cmpRegion(a.region, b.region) },
			func(a, b boundedEntry) boundedEntry {
				return boundedEntry{region: a.region, inc: max(a.inc, b.inc), dec: max(a.dec, b.dec)}
			}),
		transfers: mergeSorted(c.transfers, o.transfers, transfer.compare,
			func(a, b transfer) transfer { return transfer{from: a.from, to: a.to, n: max(a.n, b.n)} }),
	}
}

// appendBody writes: the region table (uvarint count, names sorted), then
// per region its increments and decrements (uvarints), then the transfers:
// uvarint count, and each as from index, to index, amount, sorted.
func (c BoundedCounter) appendBody(b []byte) []byte {
	table := c.regions()
	b = appendUvarint(b, uint64(len(table)))
	for _, r := range table {
		b = appendString(b, string(r))
		e, _ := c.entry(r)
		b = appendUvarint(b, e.inc)
		b = appendUvarint(b, e.dec)
	}
	b = appendUvarint(b, uint64(len(c.transfers)))
	for _, t := range c.transfers {
		b = appendUvarint(b, table.index(t.from))
		b = appendUvarint(b, table.index(t.to))
		b = appendUvarint(b, t.n)
	}
	return b
}

func (d *decoder) boundedCounter() BoundedCounter {
	n := d.count("regions", MaxReplicas)
	if d.Err != nil {
		return BoundedCounter{}
	}
	var c BoundedCounter
	table := make(regionTable, 0, n)
	used := make([]bool, n)
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		e := boundedEntry{region: d.region()}
		e.inc, e.dec = d.Uvarint(), d.Uvarint()
		if d.Err == nil && i > 0 && e.region <= table[i-1] {
			d.Fail(start, "regions out of order: %q after %q", e.region, table[i-1])
		}
		table = append(table, e.region)
		if e.inc > 0 || e.dec > 0 {
			c.entries = append(c.entries, e)
			used[i] = true
		}
	}
	m := d.count("transfers", d.Left())
	for i := 0; i < m && d.Err == nil; i++ {
		start := d.Off
		from, to := d.index(n), d.index(n)
		t := transfer{n: d.positive("transfer")}
		if d.Err != nil {
			break
		}
		t.from, t.to = table[from], table[to]
		switch {
		case from == to:
			d.Fail(start, "transfer from %q to itself", t.from)
		case i > 0 && t.compare(c.transfers[i-1]) <= 0:
			d.Fail(start, "transfers out of order")
		}
		c.transfers = append(c.transfers, t)
		used[from], used[to] = true, true
	}
	for i := 0; i < n && d.Err == nil; i++ {
		if !used[i] {
			d.Fail(d.Off, "region %q in the table is not used", table[i])
		}
	}
	return c
}
