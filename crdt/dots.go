package crdt

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/xregion/xregion"
)

// A dot names one event: the n-th event that region originated in a state.
// The sets, the multi-value register and the map tag what they hold with the
// dot of the event that put it there, so that a remove can name exactly what
// it observed (dotted version vectors, as riak_dt's ORSWOT).
type dot struct {
	region xregion.Region
	n      uint64 // from 1
}

func (d dot) compare(e dot) int {
	return cmp.Or(strings.Compare(string(d.region), string(e.region)), cmp.Compare(d.n, e.n))
}

// vvEntry is one region's entry of a version vector.
type vvEntry struct {
	region xregion.Region
	n      uint64 // dots 1..n of region have been seen; never 0
}

// causalContext is the set of dots a state has seen, whether or not what
// they added is still there: a dot in the context that tags nothing was
// removed. It is kept compact: a version vector (every dot up to vv[r]) plus
// the cloud of dots seen out of order (a delta carries only its own dots).
// Canonical form, which encoding relies on: vv sorted by region with n > 0;
// cloud sorted, and no cloud dot at or directly after its region's vv (it
// would be folded into the vector).
//
// Contexts never grow with removes: a remove adds no dot, and the dots it
// observed are already in the context. They grow with the number of regions
// and, transiently, with deltas merged out of order.
type causalContext struct {
	vv    []vvEntry
	cloud []dot
}

// seen returns how many of region r's dots the vector covers.
func (c causalContext) seen(r xregion.Region) uint64 {
	if len(c.vv) <= 8 {
		// Vectors hold one entry per region, usually a few: a linear scan
		// beats a binary search.
		for _, e := range c.vv {
			if e.region == r {
				return e.n
			}
		}
		return 0
	}
	i, ok := slices.BinarySearchFunc(c.vv, r, func(e vvEntry, r xregion.Region) int { return cmpRegion(e.region, r) })
	if !ok {
		return 0
	}
	return c.vv[i].n
}

// covers reports whether d is in the context.
func (c causalContext) covers(d dot) bool {
	if d.n <= c.seen(d.region) {
		return true
	}
	if len(c.cloud) == 0 {
		return false
	}
	_, ok := slices.BinarySearchFunc(c.cloud, d, dot.compare)
	return ok
}

// next returns the dot of region r's next event: after every dot of r the
// context holds.
func (c causalContext) next(r xregion.Region) dot {
	n := c.seen(r)
	for _, d := range c.cloud {
		if d.region == r && d.n > n {
			n = d.n
		}
	}
	return dot{region: r, n: n + 1}
}

func (c causalContext) empty() bool { return len(c.vv) == 0 && len(c.cloud) == 0 }

// coverage answers covers for one context, faster: a merge of a large
// state tests every one of its dots against the other side's context, and
// most are outside that context's cloud, which a range check per region
// tells without a search.
type coverage struct {
	ctx   causalContext
	regs  []regionCover
	small [4]regionCover // regs' storage for the usual few regions
}

type regionCover struct {
	region xregion.Region
	seen   uint64 // the vector's count
	lo, hi uint64 // the range of the region's cloud dots; 0, 0 if none
}

// cover fills cv for c. cv is the caller's, so that it lives on the stack.
func (c causalContext) cover(cv *coverage) *coverage {
	cv.ctx, cv.regs = c, cv.small[:0]
	// Both lists are sorted by region: walk them together.
	i, j := 0, 0
	for i < len(c.vv) || j < len(c.cloud) {
		var r regionCover
		switch {
		case j == len(c.cloud) || i < len(c.vv) && c.vv[i].region <= c.cloud[j].region:
			r.region = c.vv[i].region
		default:
			r.region = c.cloud[j].region
		}
		if i < len(c.vv) && c.vv[i].region == r.region {
			r.seen = c.vv[i].n
			i++
		}
		for ; j < len(c.cloud) && c.cloud[j].region == r.region; j++ {
			if r.hi == 0 {
				r.lo = c.cloud[j].n
			}
			r.hi = c.cloud[j].n
		}
		cv.regs = append(cv.regs, r)
	}
	return cv
}

func (cv *coverage) covers(d dot) bool {
	var r *regionCover
	if len(cv.regs) <= 8 {
		for i := range cv.regs {
			if cv.regs[i].region == d.region {
				r = &cv.regs[i]
				break
			}
		}
	} else if i, ok := slices.BinarySearchFunc(cv.regs, d.region, func(e regionCover, r xregion.Region) int { return cmpRegion(e.region, r) }); ok {
		r = &cv.regs[i]
	}
	switch {
	case r == nil:
		return false
	case d.n <= r.seen:
		return true
	case d.n < r.lo || d.n > r.hi:
		return false
	}
	_, ok := slices.BinarySearchFunc(cv.ctx.cloud, d, dot.compare)
	return ok
}

func (cv *coverage) empty() bool { return len(cv.regs) == 0 }

// contextOf returns the compact context holding exactly dots (in any order,
// duplicates allowed).
func contextOf(dots []dot) causalContext {
	cloud := slices.Clone(dots)
	slices.SortFunc(cloud, dot.compare)
	cloud = slices.CompactFunc(cloud, func(a, b dot) bool { return a == b })
	return compact(nil, cloud)
}

// joinContext returns the union of a and b.
func joinContext(a, b causalContext) causalContext {
	if len(a.cloud) == 0 && len(b.cloud) == 0 {
		return causalContext{vv: joinVV(a.vv, b.vv)}
	}
	return compact(joinVV(a.vv, b.vv), unionDots(a.cloud, b.cloud))
}

// joinVV returns the entry-wise maximum of two sorted vectors, sharing an
// argument's slice when it is the answer.
func joinVV(a, b []vvEntry) []vvEntry {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	if dominatesVV(a, b) {
		return a
	}
	if dominatesVV(b, a) {
		return b
	}
	return mergeSorted(a, b, func(x, y vvEntry) int { return cmp.Compare(x.region, y.region) },
		func(x, y vvEntry) vvEntry { return vvEntry{x.region, max(x.n, y.n)} })
}

// dominatesVV reports whether a covers every entry of b.
func dominatesVV(a, b []vvEntry) bool {
	if len(b) > len(a) {
		return false
	}
	i := 0
	for _, e := range b {
		for i < len(a) && a[i].region < e.region {
			i++
		}
		if i == len(a) || a[i].region != e.region || a[i].n < e.n {
			return false
		}
	}
	return true
}

// unionDots merges two sorted dot lists without duplicates.
func unionDots(a, b []dot) []dot {
	return mergeSorted(a, b, dot.compare, func(x, _ dot) dot { return x })
}

// compact folds into the sorted vector vv every cloud dot it covers or that
// directly extends it, and returns the canonical context. cloud must be
// sorted without duplicates.
func compact(vv []vvEntry, cloud []dot) causalContext {
	if len(cloud) == 0 {
		return causalContext{vv: vv}
	}
	outVV := make([]vvEntry, 0, len(vv)+1)
	var outCloud []dot
	i, j := 0, 0
	for i < len(vv) || j < len(cloud) {
		// The next region in order, from the vector or the cloud.
		var r xregion.Region
		switch {
		case j == len(cloud) || i < len(vv) && vv[i].region <= cloud[j].region:
			r = vv[i].region
		default:
			r = cloud[j].region
		}
		var n uint64
		if i < len(vv) && vv[i].region == r {
			n = vv[i].n
			i++
		}
		for ; j < len(cloud) && cloud[j].region == r; j++ {
			switch d := cloud[j]; {
			case d.n <= n:
			case d.n == n+1:
				n++
			default:
				outCloud = append(outCloud, d)
			}
		}
		if n > 0 {
			outVV = append(outVV, vvEntry{r, n})
		}
	}
	if len(outVV) == 0 {
		outVV = nil
	}
	return causalContext{vv: outVV, cloud: outCloud}
}

// joinDots is the join of two dot sets, each with its context: the dots
// both hold, and those only one holds that the other has not seen (a dot
// the other has seen but does not hold was removed there). It shares an
// argument's slice when that is the answer.
func joinDots(a []dot, ac *coverage, b []dot, bc *coverage) []dot {
	if slices.Equal(a, b) {
		return a
	}
	var out []dot
	walkSorted(a, b, dot.compare, func(x, y *dot) {
		switch {
		case x != nil && y != nil:
			out = append(out, *x)
		case x != nil:
			if !bc.covers(*x) {
				out = append(out, *x)
			}
		default:
			if !ac.covers(*y) {
				out = append(out, *y)
			}
		}
	})
	return out
}

// survivors returns the dots of a that a context c, of a state not holding
// them, has not seen: what survives of a when merged with a state that
// lacks a's element. It shares a when nothing is removed.
func survivors(a []dot, c *coverage) []dot {
	for i, d := range a {
		if c.covers(d) {
			out := slices.Clone(a[:i])
			for _, d := range a[i+1:] {
				if !c.covers(d) {
					out = append(out, d)
				}
			}
			return out
		}
	}
	return a
}

// regions returns how many regions the context names.
func (c causalContext) regions() int {
	n := len(c.vv)
	var last xregion.Region
	for _, d := range c.cloud {
		if d.region != last && c.seen(d.region) == 0 {
			n++
		}
		last = d.region
	}
	return n
}

// checkEvents refuses k new events of region r if they would make the
// context name more than MaxReplicas regions, or run r's counter past
// 2^64-1 (which only a hostile state can bring near).
func (c causalContext) checkEvents(what string, r xregion.Region, k int) error {
	next := c.next(r).n
	if next == 0 || next-1 > math.MaxUint64-uint64(k) {
		return invalid(what+" in region "+string(r), "the region's event counter is exhausted")
	}
	if next > 1 {
		return nil // r is named already
	}
	if n := c.regions(); n >= MaxReplicas {
		return invalid(what+" in region "+string(r), "the state already names %d regions, the limit", n)
	}
	return nil
}
