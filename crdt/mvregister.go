package crdt

import (
	"bytes"
	"slices"

	"github.com/xregion/xregion"
)

// MVRegister is a multi-value register: a write replaces the values its
// region had seen, and writes made concurrently in several regions are all
// kept, side by side, until a write that has seen them replaces them. Use it
// for a field where silently keeping one of two concurrent edits is not
// acceptable (a shipping address, a price override): the application sees
// every concurrent value and settles them, by asking someone or by a rule
// of its own, and its next write replaces them all.
//
// The zero MVRegister is empty. An MVRegister is an immutable value, safe
// for concurrent use.
type MVRegister struct {
	entries []mvEntry // sorted by dot
	ctx     causalContext
}

type mvEntry struct {
	d     dot
	value []byte // never modified; nil for an empty value
}

// Type returns TypeMVRegister.
func (MVRegister) Type() Type { return TypeMVRegister }

// Values returns copies of the values the register holds, distinct and
// sorted bytewise: none when empty or cleared, one after a write that has
// seen all others, several after concurrent writes.
func (m MVRegister) Values() [][]byte {
	out := make([][]byte, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e.value)
	}
	slices.SortFunc(out, bytes.Compare)
	out = slices.CompactFunc(out, bytes.Equal)
	for i := range out {
		out[i] = bytes.Clone(out[i])
	}
	return out
}

// Set returns the delta that writes value in region r, replacing every value
// m holds: merge it into m to apply it. Errors, all *xregion.InvalidError:
// an invalid region, too many regions, a value longer than MaxEncodedLen.
func (m MVRegister) Set(r xregion.Region, value []byte) (MVRegister, error) {
	if err := r.Validate(); err != nil {
		return MVRegister{}, err
	}
	if err := m.ctx.checkEvents("mvregister write", r, 1); err != nil {
		return MVRegister{}, err
	}
	if len(value) > MaxEncodedLen {
		return MVRegister{}, invalid("mvregister value", "%d bytes; the limit is %d", len(value), MaxEncodedLen)
	}
	if len(value) == 0 {
		value = nil
	}
	d := m.ctx.next(r)
	return MVRegister{
		entries: []mvEntry{{d: d, value: bytes.Clone(value)}},
		ctx:     contextOf(append(m.dots(), d)),
	}, nil
}

// Clear returns the delta that removes every value m holds: merge it into m
// to apply it. A value written concurrently, which m has not seen, survives.
func (m MVRegister) Clear() MVRegister { return MVRegister{ctx: contextOf(m.dots())} }

func (m MVRegister) dots() []dot {
	ds := make([]dot, 0, len(m.entries)+1)
	for _, e := range m.entries {
		ds = append(ds, e.d)
	}
	return ds
}

// Merge returns the join of m and o: the values both hold, and those one
// holds that the other has not seen (those it has seen and does not hold
// were replaced or cleared there).
func (m MVRegister) Merge(o MVRegister) MVRegister {
	out := MVRegister{ctx: joinContext(m.ctx, o.ctx)}
	i, j := 0, 0
	for i < len(m.entries) || j < len(o.entries) {
		var c int
		switch {
		case j == len(o.entries):
			c = -1
		case i == len(m.entries):
			c = 1
		default:
			c = m.entries[i].d.compare(o.entries[j].d)
		}
		switch {
		case c == 0:
			// One dot is one write, so both hold the same value; should
			// hostile input disagree, the larger wins on both sides.
			e := m.entries[i]
			if bytes.Compare(o.entries[j].value, e.value) > 0 {
				e = o.entries[j]
			}
			out.entries = append(out.entries, e)
			i, j = i+1, j+1
		case c < 0:
			if !o.ctx.covers(m.entries[i].d) {
				out.entries = append(out.entries, m.entries[i])
			}
			i++
		default:
			if !m.ctx.covers(o.entries[j].d) {
				out.entries = append(out.entries, o.entries[j])
			}
			j++
		}
	}
	return out
}

// appendBody writes: the causal context, uvarint count, then per write
// (sorted by dot): the dot, the value (uvarint length, bytes).
func (m MVRegister) appendBody(b []byte) []byte {
	b, table := appendContext(b, m.ctx)
	b = appendUvarint(b, uint64(len(m.entries)))
	for _, e := range m.entries {
		b = appendDot(b, table, e.d)
		b = appendBytes(b, e.value)
	}
	return b
}

func (d *decoder) mvRegister() MVRegister {
	var m MVRegister
	var table regionTable
	m.ctx, table = d.context()
	n := d.count("values", d.Left())
	if d.Err != nil {
		return MVRegister{}
	}
	if n > 0 {
		m.entries = make([]mvEntry, 0, n)
	}
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		e := mvEntry{d: d.dot(table, m.ctx)}
		if v := d.Bytes(MaxEncodedLen); len(v) > 0 {
			e.value = bytes.Clone(v)
		}
		if d.Err == nil && i > 0 && e.d.compare(m.entries[i-1].d) <= 0 {
			d.Fail(start, "values out of order")
		}
		m.entries = append(m.entries, e)
	}
	return m
}
