package crdt

import (
	"cmp"
	"slices"
	"strings"

	"github.com/xregion/xregion"
)

// ORMap is a map from field names to CRDT states of this package (maps
// nested in maps included), with add-wins fields: a field updated
// concurrently with its removal is kept. A field is named by its name and
// its Type, so two regions that put different types under one name
// concurrently get two fields, not a merge that cannot be made.
//
// Each update of a field tags the field with a fresh dot carrying the
// field's whole new value (what the updating region held, merged with the
// update); a remove takes away the dots it observed, and the value goes with
// them. A field's value is the merge of the values of its remaining dots:
// usually one, several after concurrent updates. Nothing is left behind by
// a removed field beyond the map's version vector.
//
// What a concurrent update and remove of one field do (the "resurrection"
// every CRDT map must settle):
//
//   - The field survives, with the value the updating region held, merged
//     with its update: the remove is undone for that field, including what
//     it removed. Add-wins, like Akka's ORMap and riak_dt's map.
//   - To empty a field so that a concurrent update cannot bring the old
//     contents back, update it with a clearing delta instead of removing it
//     (ORSet.Clear, MVRegister.Clear, ORMap.Remove of its fields): those
//     remove exactly what they observed, and the concurrent update's own
//     additions survive.
//   - Counters (GCounter, PNCounter) merge per region by the larger total,
//     so a counter removed and created again while another region still
//     updates the old one merges the two lives: the new increments of a
//     region are hidden until they pass its old total. Do not reset a
//     counter by removing it; use a new field name (e.g. with a period in
//     it: "spend/2025-03").
//   - BoundedCounter cannot be a field: a removed escrow merged with a
//     concurrent decrement could break the no-negative-balance guarantee.
//     Keep each bounded counter in a record of its own.
//
// The zero ORMap is empty. An ORMap is an immutable value, safe for
// concurrent use.
type ORMap struct {
	entries []mapEntry // sorted by (name, typ); vals never empty
	ctx     causalContext
}

// Key names a field of an ORMap: its name and the type of its value.
type Key struct {
	Name string
	Type Type
}

func (k Key) compare(l Key) int {
	return cmp.Or(strings.Compare(k.Name, l.Name), cmp.Compare(k.Type, l.Type))
}

type mapEntry struct {
	key  Key
	vals []mapVal // sorted by dot; never modified
}

type mapVal struct {
	d dot
	v State
}

// Type returns TypeORMap.
func (ORMap) Type() Type { return TypeORMap }

// Len returns the number of fields.
func (m ORMap) Len() int { return len(m.entries) }

// Keys returns the fields' keys, sorted by name and then type.
func (m ORMap) Keys() []Key {
	out := make([]Key, len(m.entries))
	for i, e := range m.entries {
		out[i] = e.key
	}
	return out
}

func (m ORMap) find(k Key) (int, bool) {
	return slices.BinarySearchFunc(m.entries, k, func(e mapEntry, k Key) int { return e.key.compare(k) })
}

// Value returns the value of the field named name holding a state of type
// t, and whether the map has that field.
func (m ORMap) Value(name string, t Type) (State, bool) {
	i, ok := m.find(Key{name, t})
	if !ok {
		return nil, false
	}
	return m.entries[i].value(), true
}

// value merges the values of the entry's dots.
func (e mapEntry) value() State {
	v := e.vals[0].v
	for _, x := range e.vals[1:] {
		v = mergeSame(v, x.v)
	}
	return v
}

// Get returns the value of m's field named name holding a T, and whether
// m has it; when it does not, the empty T (the state to build an update
// from, except for a PNCounter, which must be made with NewPNCounter).
func Get[T State](m ORMap, name string) (T, bool) {
	var zero T
	s, ok := m.Value(name, zero.Type())
	if !ok {
		return zero, false
	}
	return s.(T), true
}

// Update returns the delta that merges delta into the field named name (of
// delta's type; created if m lacks it) in region r: merge it into m to apply
// it. delta is a delta or a state of the field's type, typically from a
// mutation of Get's result:
//
//	tags, _ := crdt.Get[crdt.ORSet](m, "tags")
//	add, err := tags.Add(region, "vip")
//	...
//	d, err := m.Update(region, "tags", add)
//	m = m.Merge(d)
//
// The map delta carries the field's whole new value. Errors, all
// *xregion.InvalidError unless said: an invalid region, too many regions,
// a nil delta, a pointer to a state or a BoundedCounter, a name longer
// than MaxElementLen, maps nested deeper than MaxDepth; a
// *TypeMismatchError for a PNCounter with limits other than the field's.
func (m ORMap) Update(r xregion.Region, name string, delta State) (ORMap, error) {
	if err := r.Validate(); err != nil {
		return ORMap{}, err
	}
	if err := check("ormap update of "+quote(name), delta); err != nil {
		return ORMap{}, err
	}
	switch {
	case delta.Type() == TypeBoundedCounter:
		return ORMap{}, invalid("ormap update of "+quote(name), "a bounded counter cannot be a map field: removing it concurrently with a decrement could take the balance below zero; keep it in a record of its own")
	case len(name) > MaxElementLen:
		return ORMap{}, invalid("ormap field name "+quote(name), "%d bytes; the limit is %d", len(name), MaxElementLen)
	case 1+depth(delta) > MaxDepth:
		return ORMap{}, invalid("ormap update of "+quote(name), "maps would nest %d deep; the limit is %d", 1+depth(delta), MaxDepth)
	}
	if err := m.ctx.checkEvents("ormap update", r, 1); err != nil {
		return ORMap{}, err
	}
	k := Key{name, delta.Type()}
	value := delta
	var seen []dot
	if i, ok := m.find(k); ok {
		cur := m.entries[i].value()
		// Same type, so only PN counters' limits can differ; an undeclared
		// (zero) counter on either side merges into the other.
		if kc, kd := kind(cur), kind(delta); kc != kd && cur.(PNCounter).Precision() != 0 && delta.(PNCounter).Precision() != 0 {
			return ORMap{}, &TypeMismatchError{Local: kc, Incoming: kd}
		}
		value = mergeSame(cur, delta)
		for _, v := range m.entries[i].vals {
			seen = append(seen, v.d)
		}
	}
	d := m.ctx.next(r)
	return ORMap{
		entries: []mapEntry{{key: k, vals: []mapVal{{d: d, v: value}}}},
		ctx:     contextOf(append(seen, d)),
	}, nil
}

// Remove returns the delta that removes the fields named name, of every
// type, as m observes them: merge it into m to apply it. A concurrent update
// of such a field, which m has not seen, keeps it (see the type's
// documentation). Removing a name m does not hold is a no-op.
func (m ORMap) Remove(name string) ORMap {
	var seen []dot
	i, _ := m.find(Key{Name: name})
	for ; i < len(m.entries) && m.entries[i].key.Name == name; i++ {
		for _, v := range m.entries[i].vals {
			seen = append(seen, v.d)
		}
	}
	if len(seen) == 0 {
		return ORMap{}
	}
	return ORMap{ctx: contextOf(seen)}
}

// Merge returns the join of m and o: every field with the dots (and their
// values) that both hold, or that one holds and the other has not seen.
func (m ORMap) Merge(o ORMap) ORMap {
	out := ORMap{ctx: joinContext(m.ctx, o.ctx)}
	a, b := m.entries, o.entries
	// onlyIn appends what survives of a field the other side lacks: the
	// dots the other side has not seen (those it has seen were removed).
	onlyIn := func(e mapEntry, other causalContext) {
		kept := e.vals
		for i, v := range e.vals {
			if other.covers(v.d) {
				kept = slices.Clone(e.vals[:i])
				for _, v := range e.vals[i+1:] {
					if !other.covers(v.d) {
						kept = append(kept, v)
					}
				}
				break
			}
		}
		if len(kept) > 0 {
			out.entries = append(out.entries, mapEntry{key: e.key, vals: kept})
		}
	}
	walkSorted(a, b, func(x, y mapEntry) int { return x.key.compare(y.key) }, func(x, y *mapEntry) {
		switch {
		case x != nil && y != nil:
			if vals := joinVals(x.vals, m.ctx, y.vals, o.ctx); len(vals) > 0 {
				out.entries = append(out.entries, mapEntry{key: x.key, vals: vals})
			}
		case x != nil:
			onlyIn(*x, o.ctx)
		default:
			onlyIn(*y, m.ctx)
		}
	})
	return out
}

// joinVals is joinDots for dots that carry values. One dot is one update, so
// both sides hold the same value for it; should hostile input disagree, the
// values are merged, which keeps Merge a join.
func joinVals(a []mapVal, ac causalContext, b []mapVal, bc causalContext) []mapVal {
	var out []mapVal
	walkSorted(a, b, func(x, y mapVal) int { return x.d.compare(y.d) }, func(x, y *mapVal) {
		switch {
		case x != nil && y != nil:
			out = append(out, mapVal{d: x.d, v: mergeSame(x.v, y.v)})
		case x != nil:
			if !bc.covers(x.d) {
				out = append(out, *x)
			}
		default:
			if !ac.covers(y.d) {
				out = append(out, *y)
			}
		}
	})
	return out
}

// depth is how deeply maps nest in s: 0 for a state that is not a map.
func depth(s State) int {
	m, ok := s.(ORMap)
	if !ok {
		return 0
	}
	d := 0
	for _, e := range m.entries {
		if e.key.Type != TypeORMap {
			continue
		}
		for _, v := range e.vals {
			d = max(d, depth(v.v))
		}
	}
	return 1 + d
}

// appendBody writes: the causal context, uvarint count, then per field
// (sorted by name, then type): the name (uvarint length, bytes), the type
// (1 byte), uvarint count of dots, then per dot (sorted): the dot and the
// value as type tag and body.
func (m ORMap) appendBody(b []byte) []byte {
	b, table := appendContext(b, m.ctx)
	b = appendUvarint(b, uint64(len(m.entries)))
	for _, e := range m.entries {
		b = appendString(b, e.key.Name)
		b = append(b, byte(e.key.Type))
		b = appendUvarint(b, uint64(len(e.vals)))
		for _, v := range e.vals {
			b = appendDot(b, table, v.d)
			b = append(b, byte(v.v.Type()))
			b = v.v.appendBody(b)
		}
	}
	return b
}

func (d *decoder) ormap(depth int) ORMap {
	var m ORMap
	var table regionTable
	m.ctx, table = d.context()
	n := d.count("fields", d.Left())
	if d.Err != nil {
		return ORMap{}
	}
	if n > 0 {
		m.entries = make([]mapEntry, 0, n)
	}
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		e := mapEntry{key: Key{Name: d.str(MaxElementLen), Type: Type(d.Byte())}}
		switch {
		case d.Err != nil:
			return ORMap{}
		case !e.key.Type.valid():
			d.Fail(start, "field %s of unknown type %d", quote(e.key.Name), uint8(e.key.Type))
		case e.key.Type == TypeBoundedCounter:
			d.Fail(start, "field %s is a bounded counter, which cannot be a map field", quote(e.key.Name))
		case i > 0 && e.key.compare(m.entries[i-1].key) <= 0:
			d.Fail(start, "fields out of order")
		}
		nv := d.count("values", d.Left())
		if d.Err == nil && nv == 0 {
			d.Fail(d.Off, "field %s with no values", quote(e.key.Name))
		}
		if d.Err != nil {
			return ORMap{}
		}
		e.vals = make([]mapVal, 0, nv)
		for j := 0; j < nv && d.Err == nil; j++ {
			vstart := d.Off
			v := mapVal{d: d.dot(table, m.ctx)}
			if d.Err == nil && j > 0 && v.d.compare(e.vals[j-1].d) <= 0 {
				d.Fail(vstart, "values out of order")
			}
			tstart := d.Off
			v.v = d.state(depth + 1)
			if d.Err == nil && v.v.Type() != e.key.Type {
				d.Fail(tstart, "field %s of type %s holds a %s", quote(e.key.Name), e.key.Type, v.v.Type())
			}
			e.vals = append(e.vals, v)
		}
		m.entries = append(m.entries, e)
	}
	if d.Err != nil {
		return ORMap{}
	}
	return m
}
