package crdt

import (
	"slices"
	"sort"
	"strings"

	"github.com/xregion/xregion"
)

// ORSet is an add-wins observed-remove set of strings without tombstones
// (riak_dt's ORSWOT). Each add tags its element with a fresh dot; a remove
// takes away the dots it observed, so an add made concurrently with a
// remove, which the remove could not observe, survives it: the set holds
// exactly the adds that no remove observed. Removed elements leave nothing
// behind: the state's metadata is one dot per element per region that added
// it concurrently (usually one), plus a version vector of one counter per
// region, however many adds and removes came before.
//
// The zero ORSet is empty. An ORSet is an immutable value, safe for
// concurrent use. Each mutation and Merge builds a new state, in time linear
// in the set's size (as decoding and encoding a record's value are).
type ORSet struct {
	entries []setEntry // sorted by elem; dots never empty
	ctx     causalContext
}

type setEntry struct {
	elem string
	dots []dot // sorted; never modified
}

// Type returns TypeORSet.
func (ORSet) Type() Type { return TypeORSet }

// Len returns the number of elements.
func (s ORSet) Len() int { return len(s.entries) }

// Contains reports whether e is in the set.
func (s ORSet) Contains(e string) bool {
	_, ok := s.find(e)
	return ok
}

// Elements returns the elements, sorted.
func (s ORSet) Elements() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.elem
	}
	return out
}

func (s ORSet) find(e string) (int, bool) {
	return slices.BinarySearchFunc(s.entries, e, func(x setEntry, e string) int { return strings.Compare(x.elem, e) })
}

// Add returns the delta that adds e in region r: merge it into s to apply
// it. The delta also takes away the dots e already had in s, so that an
// element added over and over keeps a single dot. Errors, all
// *xregion.InvalidError: an invalid region, too many regions, an element
// longer than MaxElementLen.
func (s ORSet) Add(r xregion.Region, e string) (ORSet, error) { return s.AddAll(r, e) }

// AddAll returns the delta that adds every element of elems in region r, as
// Add would one by one, in time proportional to len(elems) log len(s).
func (s ORSet) AddAll(r xregion.Region, elems ...string) (ORSet, error) {
	if err := r.Validate(); err != nil {
		return ORSet{}, err
	}
	if err := s.ctx.checkEvents("orset add", r, len(elems)); err != nil {
		return ORSet{}, err
	}
	sorted := slices.Clone(elems)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, e := range sorted {
		if len(e) > MaxElementLen {
			return ORSet{}, invalid("orset element "+quote(e), "%d bytes; the limit is %d", len(e), MaxElementLen)
		}
	}
	next := s.ctx.next(r)
	delta := ORSet{entries: make([]setEntry, len(sorted))}
	seen := make([]dot, 0, len(sorted))
	for i, e := range sorted {
		d := dot{region: r, n: next.n + uint64(i)}
		delta.entries[i] = setEntry{elem: e, dots: []dot{d}}
		seen = append(seen, d)
		if k, ok := s.find(e); ok {
			seen = append(seen, s.entries[k].dots...)
		}
	}
	delta.ctx = contextOf(seen)
	return delta, nil
}

// Remove returns the delta that removes e as s observes it: merge it into s
// to apply it. An add of e that s has not seen is not removed. Removing an
// element s does not hold is a no-op (the empty delta).
func (s ORSet) Remove(e string) ORSet {
	k, ok := s.find(e)
	if !ok {
		return ORSet{}
	}
	return ORSet{ctx: contextOf(s.entries[k].dots)}
}

// Clear returns the delta that removes every element s holds, keeping the
// adds s has not seen.
func (s ORSet) Clear() ORSet {
	var all []dot
	for _, e := range s.entries {
		all = append(all, e.dots...)
	}
	return ORSet{ctx: contextOf(all)}
}

// Merge returns the join of s and o: every element with the dots that both
// hold, or that one holds and the other has not seen. A dot one side has
// seen but no longer holds was removed there, and stays removed.
func (s ORSet) Merge(o ORSet) ORSet {
	out := ORSet{ctx: joinContext(s.ctx, o.ctx)}
	a, b := s.entries, o.entries
	var scv, ocv coverage
	sc, oc := s.ctx.cover(&scv), o.ctx.cover(&ocv)
	out.entries = make([]setEntry, 0, max(len(a), len(b)))
	// onlyIn appends what survives of entries that the other side lacks. A
	// side whose context is empty has removed nothing, so its runs copy
	// straight across.
	onlyIn := func(run []setEntry, other *coverage) {
		if other.empty() {
			out.entries = append(out.entries, run...)
			return
		}
		for _, e := range run {
			if ds := survivors(e.dots, other); len(ds) > 0 {
				out.entries = append(out.entries, setEntry{elem: e.elem, dots: ds})
			}
		}
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].elem, b[j].elem); {
		case c == 0:
			if ds := joinDots(a[i].dots, sc, b[j].dots, oc); len(ds) > 0 {
				out.entries = append(out.entries, setEntry{elem: a[i].elem, dots: ds})
			}
			i, j = i+1, j+1
		case c < 0:
			// Skip ahead to b[j] in one search: merging a small delta into
			// a large set should not compare every element.
			k := i + sort.Search(len(a)-i, func(k int) bool { return a[i+k].elem >= b[j].elem })
			onlyIn(a[i:k], oc)
			i = k
		default:
			k := j + sort.Search(len(b)-j, func(k int) bool { return b[j+k].elem >= a[i].elem })
			onlyIn(b[j:k], sc)
			j = k
		}
	}
	onlyIn(a[i:], oc)
	onlyIn(b[j:], sc)
	if len(out.entries) == 0 {
		out.entries = nil
	}
	return out
}

// appendBody writes: the causal context, uvarint count, then per element
// (sorted): the element (uvarint length, bytes) and its dots (uvarint
// count, then each as region index, counter).
func (s ORSet) appendBody(b []byte) []byte {
	b, table := appendContext(b, s.ctx)
	b = appendUvarint(b, uint64(len(s.entries)))
	for _, e := range s.entries {
		b = appendString(b, e.elem)
		b = appendDots(b, table, e.dots)
	}
	return b
}

func (d *decoder) orset() ORSet {
	var s ORSet
	var table regionTable
	s.ctx, table = d.context()
	n := d.count("elements", d.Left())
	if d.Err != nil {
		return ORSet{}
	}
	if n > 0 {
		s.entries = make([]setEntry, 0, n)
	}
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		e := setEntry{elem: d.str(MaxElementLen)}
		e.dots = d.dots(table, s.ctx)
		if d.Err == nil && i > 0 && e.elem <= s.entries[i-1].elem {
			d.Fail(start, "elements out of order")
		}
		s.entries = append(s.entries, e)
	}
	return s
}
