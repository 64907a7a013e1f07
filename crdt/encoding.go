package crdt

import (
	"encoding/binary"
	"slices"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wire"
)

// Limits on what a state may hold. Decode refuses anything beyond them, so
// bytes from another region cannot make a region allocate without bound or
// recurse without end; mutations refuse to build such states.
const (
	// MaxEncodedLen is the longest encoding accepted: a record value's limit.
	MaxEncodedLen = xregion.MaxValueLen
	// MaxReplicas is the most regions (replica ids) one state, or one
	// nested state, may name.
	MaxReplicas = 256
	// MaxElementLen is the longest ORSet element or ORMap field name, in
	// bytes: as long as a record key.
	MaxElementLen = xregion.MaxKeyLen
	// MaxDepth is how deeply ORMaps may nest: a map holding a map holding a
	// map is depth 3.
	MaxDepth = 8
)

// formatV1 is the first byte of every encoding. A decoder refuses formats
// it does not know rather than guess.
const formatV1 byte = 1

// Encode returns the binary encoding of s. The encoding is canonical: equal
// states encode to equal bytes, whichever order of merges and mutations
// produced them, so encodings can be compared and hashed across regions.
// Layout:
//
//	format    1 byte, 1
//	type      1 byte, the Type (1 gcounter ... 7 ormap)
//	body      the type's fields; maps and sets sorted, varints minimal
//
// The only error is an *xregion.InvalidError for a nil s or a pointer to a
// state: a State can be nil at run time (ORMap.Value of a missing field),
// and an encoding of nothing must not reach a record.
func Encode(s State) ([]byte, error) {
	if err := check("crdt state to encode", s); err != nil {
		return nil, err
	}
	return AppendEncode(make([]byte, 0, 64), s)
}

// AppendEncode appends the encoding of s to b. On error, Encode's, it
// returns b unchanged.
func AppendEncode(b []byte, s State) ([]byte, error) {
	if err := check("crdt state to encode", s); err != nil {
		return b, err
	}
	b = append(b, formatV1, byte(s.Type()))
	return s.appendBody(b), nil
}

// Decode decodes an encoding written by Encode. Bytes from another region
// are untrusted: anything truncated, with trailing bytes, over a limit
// (MaxEncodedLen, MaxReplicas, MaxElementLen, MaxDepth), not canonical, or
// that breaks a type's invariants is refused with a *xregion.CorruptError
// (errors.Is(err, xregion.ErrCorrupt)). The state shares no memory with b.
func Decode(b []byte) (State, error) {
	d := decoder{Decoder: wire.Decoder{B: b, What: "crdt state", Corrupt: func(what string, off int, reason string) error {
		return &xregion.CorruptError{What: what, Offset: off, Reason: reason}
	}}}
	if len(b) > MaxEncodedLen {
		return nil, d.Fail(0, "%d bytes; the limit is %d", len(b), MaxEncodedLen)
	}
	if f := d.Byte(); d.Err == nil && f != formatV1 {
		return nil, d.Fail(0, "unknown format %d, want %d", f, formatV1)
	}
	s := d.state(1)
	if d.Err != nil {
		return nil, d.Err
	}
	if d.Off != len(b) {
		return nil, d.Fail(d.Off, "%d trailing bytes", len(b)-d.Off)
	}
	return s, nil
}

// DecodeAs decodes an encoding of a state of type T, such as
// DecodeAs[ORSet](record.Value): Decode's errors, or a *TypeMismatchError if
// b holds a state of another type.
func DecodeAs[T State](b []byte) (T, error) {
	var zero T
	s, err := Decode(b)
	if err != nil {
		return zero, err
	}
	t, ok := s.(T)
	if !ok {
		return zero, &TypeMismatchError{Local: zero.Type().String(), Incoming: s.Type().String()}
	}
	return t, nil
}

// Equal reports whether a and b are the same state: equal encodings, which
// hold the type. Two nils are equal; a pointer to a state equals nothing.
func Equal(a, b State) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ea, errA := Encode(a)
	eb, errB := Encode(b)
	return errA == nil && errB == nil && string(ea) == string(eb)
}

// --- writing ---

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// regionTable lists the regions of a context in order; dots are written as
// an index into it, so a region's name is written once per state.
type regionTable []xregion.Region

func (t regionTable) index(r xregion.Region) uint64 {
	i, ok := slices.BinarySearch(t, r)
	if !ok {
		panic("crdt: dot of a region missing from the context") // an invariant, not input
	}
	return uint64(i)
}

// appendContext writes a causal context:
//
//	regions   uvarint count, then each: name, vv counter (0 if only in the cloud)
//	cloud     uvarint count, then each: region index, counter
//
// and returns the region table that dots written after it index into.
func appendContext(b []byte, c causalContext) ([]byte, regionTable) {
	table := make(regionTable, 0, len(c.vv)+1)
	for _, e := range c.vv {
		table = append(table, e.region)
	}
	for _, d := range c.cloud {
		table = append(table, d.region)
	}
	slices.Sort(table)
	table = slices.Compact(table)
	b = appendUvarint(b, uint64(len(table)))
	for _, r := range table {
		b = appendString(b, string(r))
		b = appendUvarint(b, c.seen(r))
	}
	b = appendUvarint(b, uint64(len(c.cloud)))
	for _, d := range c.cloud {
		b = appendUvarint(b, table.index(d.region))
		b = appendUvarint(b, d.n)
	}
	return b, table
}

// appendDots writes a sorted dot list: uvarint count, then each dot.
func appendDots(b []byte, table regionTable, dots []dot) []byte {
	b = appendUvarint(b, uint64(len(dots)))
	for _, d := range dots {
		b = appendDot(b, table, d)
	}
	return b
}

func appendDot(b []byte, table regionTable, d dot) []byte {
	b = appendUvarint(b, table.index(d.region))
	return appendUvarint(b, d.n)
}

// --- reading ---

// decoder is a wire.Decoder with what reading a state needs besides.
type decoder struct {
	wire.Decoder

	// s is b as a string, made once: the strings a state holds (set
	// elements, field names) are slices of it, one allocation for all.
	s string
	// slab is where dot lists are carved from, a few allocations for all.
	slab []dot
}

// str reads a length-prefixed string of at most limit bytes.
func (d *decoder) str(limit int) string {
	b := d.Bytes(limit)
	if d.Err != nil || len(b) == 0 {
		return ""
	}
	if d.s == "" {
		d.s = string(d.B)
	}
	return d.s[d.Off-len(b) : d.Off]
}

// dotList returns an empty dot list with room for n dots, carved from the
// slab.
func (d *decoder) dotList(n int) []dot {
	if n > len(d.slab) {
		d.slab = make([]dot, max(n, 1024))
	}
	out := d.slab[:0:n]
	d.slab = d.slab[n:]
	return out
}

// count reads a number of items that follow, each taking at least one byte:
// bounding it by the bytes left keeps a hostile count from allocating more
// than the input could fill.
func (d *decoder) count(what string, limit int) int {
	start := d.Off
	n := d.Uvarint()
	if d.Err != nil {
		return 0
	}
	if n > uint64(limit) {
		d.Fail(start, "%d %s; the limit is %d", n, what, limit)
		return 0
	}
	if n > uint64(d.Left()) {
		d.Fail(start, "%d %s but %d bytes left", n, what, d.Left())
		return 0
	}
	return int(n)
}

// region reads a region name and checks that it is valid.
func (d *decoder) region() xregion.Region {
	start := d.Off
	r := xregion.Region(d.Bytes(xregion.MaxNameLen))
	if d.Err != nil {
		return ""
	}
	if err := r.Validate(); err != nil {
		d.Fail(start, "%v", err)
		return ""
	}
	return r
}

// index reads an index into a table of n entries.
func (d *decoder) index(n int) int {
	start := d.Off
	i := d.Uvarint()
	if d.Err == nil && i >= uint64(n) {
		d.Fail(start, "region index %d of a table of %d", i, n)
		return 0
	}
	return int(i)
}

// positive reads a uvarint that must not be zero.
func (d *decoder) positive(what string) uint64 {
	start := d.Off
	v := d.Uvarint()
	if d.Err == nil && v == 0 {
		d.Fail(start, "zero %s", what)
	}
	return v
}

// state reads a type tag and the state it introduces; depth is the ORMap
// nesting depth at which it sits.
func (d *decoder) state(depth int) State {
	start := d.Off
	t := Type(d.Byte())
	if d.Err != nil {
		return nil
	}
	saved := d.What
	d.What = "crdt " + t.String()
	defer func() { d.What = saved }()
	switch t {
	case TypeGCounter:
		return d.gcounter()
	case TypePNCounter:
		return d.pncounter()
	case TypeBoundedCounter:
		return d.boundedCounter()
	case TypeLWWRegister:
		return d.lwwRegister()
	case TypeMVRegister:
		return d.mvRegister()
	case TypeORSet:
		return d.orset()
	case TypeORMap:
		if depth > MaxDepth {
			d.Fail(start, "maps nested %d deep; the limit is %d", depth, MaxDepth)
			return nil
		}
		return d.ormap(depth)
	}
	d.What = saved
	d.Fail(start, "unknown type %d", uint8(t))
	return nil
}

// context reads a causal context written by appendContext and checks that
// it is canonical, returning it and its region table.
func (d *decoder) context() (causalContext, regionTable) {
	n := d.count("regions", MaxReplicas)
	if d.Err != nil {
		return causalContext{}, nil
	}
	table := make(regionTable, 0, n)
	counts := make([]uint64, 0, n)
	var c causalContext
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		r := d.region()
		if d.Err == nil && i > 0 && r <= table[i-1] {
			d.Fail(start, "regions out of order: %q after %q", r, table[i-1])
		}
		v := d.Uvarint()
		table, counts = append(table, r), append(counts, v)
		if v > 0 {
			c.vv = append(c.vv, vvEntry{r, v})
		}
	}
	m := d.count("cloud dots", d.Left())
	used := make([]bool, n)
	for i := 0; i < m && d.Err == nil; i++ {
		start := d.Off
		k := d.index(n)
		v := d.positive("dot counter")
		if d.Err != nil {
			break
		}
		dt := dot{table[k], v}
		switch {
		case len(c.cloud) > 0 && dt.compare(c.cloud[len(c.cloud)-1]) <= 0:
			d.Fail(start, "cloud dots out of order")
		case v-1 <= counts[k]: // v <= counts[k]+1, which could wrap
			d.Fail(start, "cloud dot %s:%d is covered by or extends the version vector at %d; not compact", dt.region, v, counts[k])
		}
		c.cloud = append(c.cloud, dt)
		used[k] = true
	}
	for i := 0; i < n && d.Err == nil; i++ {
		if counts[i] == 0 && !used[i] {
			d.Fail(d.Off, "region %q in the context has no dots", table[i])
		}
	}
	return c, table
}

// dots reads a non-empty sorted dot list whose dots c covers.
func (d *decoder) dots(table regionTable, c causalContext) []dot {
	n := d.count("dots", d.Left())
	if d.Err == nil && n == 0 {
		d.Fail(d.Off, "empty dot list")
	}
	if d.Err != nil {
		return nil
	}
	out := d.dotList(n)
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		dt := d.dot(table, c)
		if d.Err == nil && i > 0 && dt.compare(out[i-1]) <= 0 {
			d.Fail(start, "dots out of order")
		}
		out = append(out, dt)
	}
	return out
}

// dot reads one dot, which c must cover: a state holds only dots it has seen.
func (d *decoder) dot(table regionTable, c causalContext) dot {
	start := d.Off
	k := d.index(len(table))
	v := d.positive("dot counter")
	if d.Err != nil {
		return dot{}
	}
	dt := dot{table[k], v}
	if !c.covers(dt) {
		d.Fail(start, "dot %s:%d is not in the state's context", dt.region, v)
	}
	return dt
}
