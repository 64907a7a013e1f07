package crdt

import (
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"

	"github.com/xregion/xregion"
)

// GCounter is a grow-only counter: each region counts its own increments,
// and the value is the sum over regions. Merge keeps, per region, the larger
// count, so an increment is counted once however often it is merged. Use it
// for counts that only go up (page views, messages sent); PNCounter for
// amounts that go both ways; BoundedCounter for a balance that must not go
// below zero.
//
// The zero GCounter is an empty counter, ready to use. A GCounter is an
// immutable value, safe for concurrent use.
type GCounter struct {
	entries []gEntry // sorted by region; n > 0
}

type gEntry struct {
	region xregion.Region
	n      uint64
}

// Type returns TypeGCounter.
func (GCounter) Type() Type { return TypeGCounter }

// Value returns the count: the sum of every region's increments. Increments
// made concurrently in several regions could together pass 2^64-1, which
// no single region can check; the value then stays at 2^64-1.
func (c GCounter) Value() uint64 {
	var sum uint64
	for _, e := range c.entries {
		var carry uint64
		if sum, carry = bits.Add64(sum, e.n, 0); carry != 0 {
			return math.MaxUint64
		}
	}
	return sum
}

// Of returns region r's increments.
func (c GCounter) Of(r xregion.Region) uint64 {
	if i, ok := c.find(r); ok {
		return c.entries[i].n
	}
	return 0
}

func (c GCounter) find(r xregion.Region) (int, bool) {
	return slices.BinarySearchFunc(c.entries, r, func(e gEntry, r xregion.Region) int {
		return cmpRegion(e.region, r)
	})
}

// Inc returns the delta that counts n more increments in region r: merge it
// into c (and ship it, or the merged state) to apply it. Errors: an
// *xregion.InvalidError for an invalid region or a state already naming
// MaxReplicas regions; an *OverflowError if the counter would pass 2^64-1.
func (c GCounter) Inc(r xregion.Region, n uint64) (GCounter, error) {
	if err := r.Validate(); err != nil {
		return GCounter{}, err
	}
	if n == 0 {
		return GCounter{}, nil
	}
	old := c.Of(r)
	if old == 0 && len(c.entries) >= MaxReplicas {
		return GCounter{}, invalid("gcounter increment in region "+string(r), "the counter already names %d regions, the limit", MaxReplicas)
	}
	if _, carry := bits.Add64(c.Value(), n, 0); carry != 0 {
		sum := new(big.Int).Add(new(big.Int).SetUint64(c.Value()), new(big.Int).SetUint64(n))
		return GCounter{}, &OverflowError{What: "gcounter value", Value: sum.String(), Limit: strconv.FormatUint(math.MaxUint64, 10)}
	}
	return GCounter{entries: []gEntry{{r, old + n}}}, nil
}

// Merge returns the join of c and o: per region, the larger count.
func (c GCounter) Merge(o GCounter) GCounter {
	if len(o.entries) == 0 {
		return c
	}
	if len(c.entries) == 0 {
		return o
	}
	out := make([]gEntry, 0, max(len(c.entries), len(o.entries)))
	i, j := 0, 0
	for i < len(c.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || i < len(c.entries) && c.entries[i].region < o.entries[j].region:
			out = append(out, c.entries[i])
			i++
		case i == len(c.entries) || o.entries[j].region < c.entries[i].region:
			out = append(out, o.entries[j])
			j++
		default:
			out = append(out, gEntry{c.entries[i].region, max(c.entries[i].n, o.entries[j].n)})
			i, j = i+1, j+1
		}
	}
	return GCounter{entries: out}
}

// appendBody writes: uvarint count, then per region (sorted): name, count.
func (c GCounter) appendBody(b []byte) []byte {
	b = appendUvarint(b, uint64(len(c.entries)))
	for _, e := range c.entries {
		b = appendString(b, string(e.region))
		b = appendUvarint(b, e.n)
	}
	return b
}

func (d *decoder) gcounter() GCounter {
	n := d.count("regions", MaxReplicas)
	var c GCounter
	if n > 0 {
		c.entries = make([]gEntry, 0, n)
	}
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		r := d.region()
		v := d.positive("count")
		if d.Err == nil && i > 0 && r <= c.entries[i-1].region {
			d.Fail(start, "regions out of order: %q after %q", r, c.entries[i-1].region)
		}
		c.entries = append(c.entries, gEntry{r, v})
	}
	return c
}

func cmpRegion(a, b xregion.Region) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
