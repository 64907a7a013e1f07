package crdt

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// encoded is Encode for a state a test built, where an error can only be
// the test's own mistake: it panics on one, so helpers without a
// *testing.T can use it.
func encoded(s State) []byte {
	b, err := Encode(s)
	if err != nil {
		panic(err)
	}
	return b
}

// raw builds an encoding by hand: a byte is written as is, an int as a
// uvarint, a string as uvarint length and bytes, a []byte as is.
func raw(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case int:
			b = binary.AppendUvarint(b, uint64(p))
		case uint64:
			b = binary.AppendUvarint(b, p)
		case string:
			b = appendString(b, p)
		case []byte:
			b = append(b, p...)
		default:
			panic(p)
		}
	}
	return b
}

// samples returns a valid, non-trivial state of every type.
func samples(t testing.TB) []State {
	t.Helper()
	must := func(s State, err error) State {
		t.Helper()
		require.NoError(t, err)
		return s
	}
	g := counter(t, ra, 3, rc, 1)
	pn, _ := NewPNCounter(10, 2)
	pn = pn.Merge(must(pn.Add(ra, dec("12.34"))).(PNCounter))
	pn = pn.Merge(must(pn.Add(rb, dec("-0.5"))).(PNCounter))
	var bc BoundedCounter
	bc = bc.Merge(must(bc.Inc(ra, 10)).(BoundedCounter))
	bc = bc.Merge(must(bc.Transfer(ra, rb, 4)).(BoundedCounter))
	bc = bc.Merge(must(bc.Dec(rb, 1)).(BoundedCounter))
	lww := must(LWWRegister{}.Set(ver(5, rb), []byte("v"))).(LWWRegister)
	var mv MVRegister
	mv = mv.Merge(must(mv.Set(ra, []byte("a"))).(MVRegister))
	mv = mv.Merge(must(MVRegister{}.Set(rb, []byte("b"))).(MVRegister))
	var set ORSet
	set = set.Merge(must(set.AddAll(ra, "x", "y", "z")).(ORSet))
	set = set.Merge(set.Remove("y"))
	set = set.Merge(must(ORSet{}.Add(rc, "w")).(ORSet)) // in the cloud: rc's first dot is there
	var m ORMap
	m = m.Merge(must(m.Update(ra, "count", g)).(ORMap))
	m = m.Merge(must(m.Update(rb, "tags", set)).(ORMap))
	m = m.Merge(must(m.Update(rb, "money", pn)).(ORMap))
	inner := must(ORMap{}.Update(rc, "reg", lww)).(ORMap)
	m = m.Merge(must(m.Update(rc, "inner", inner)).(ORMap))
	m = m.Merge(must(ORMap{}.Update(ra, "mv", mv)).(ORMap))
	return []State{g, pn, bc, lww, mv, set, m, GCounter{}, PNCounter{}, BoundedCounter{}, LWWRegister{}, MVRegister{}, ORSet{}, ORMap{}}
}

func TestEncode_roundTrip(t *testing.T) {
	for _, s := range samples(t) {
		t.Run(kind(s), func(t *testing.T) {
			b, err := Encode(s)
			require.NoError(t, err)
			require.Equal(t, []byte{formatV1, byte(s.Type())}, b[:2], "format version, then type tag")
			appended, err := AppendEncode([]byte("x"), s)
			require.NoError(t, err)
			require.Equal(t, "x"+string(b), string(appended))
			got, err := Decode(b)
			require.NoError(t, err)
			require.Equal(t, s.Type(), got.Type())
			require.Equal(t, b, encoded(got))
			require.True(t, Equal(s, got))
			// The state shares no memory with the input.
			for i := range b {
				b[i] = 0xff
			}
			require.Equal(t, enc(s), enc(got))
		})
	}
}

// TestEncode_canonical: states reached by different orders of the same
// merges encode to the same bytes.
func TestEncode_canonical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var deltas []ORSet
	var s ORSet
	for i := range 200 {
		r := regions[rng.IntN(3)]
		x := setElems[rng.IntN(len(setElems))]
		var d ORSet
		if i%3 == 2 {
			d = s.Remove(x)
		} else {
			var err error
			d, err = s.Add(r, x)
			require.NoError(t, err)
		}
		deltas = append(deltas, d)
		s = s.Merge(d)
	}
	for range 20 {
		var shuffled ORSet
		for _, k := range rng.Perm(len(deltas)) {
			shuffled = shuffled.Merge(deltas[k])
		}
		require.Equal(t, enc(s), enc(shuffled))
	}
}

func TestDecodeAs(t *testing.T) {
	set, err := DecodeAs[ORSet](encoded(ORSet{}))
	require.NoError(t, err)
	require.Zero(t, set.Len())
	_, err = DecodeAs[GCounter](encoded(ORSet{}))
	require.ErrorIs(t, err, ErrTypeMismatch)
	_, err = DecodeAs[GCounter]([]byte{9})
	require.ErrorIs(t, err, xregion.ErrCorrupt)
}

// TestDecode_rejects: every way bytes can be wrong is refused with a
// *xregion.CorruptError, never a panic or a huge allocation.
func TestDecode_rejects(t *testing.T) {
	const (
		g, pn, bc, lw, mv, os, om = byte(TypeGCounter), byte(TypePNCounter), byte(TypeBoundedCounter), byte(TypeLWWRegister), byte(TypeMVRegister), byte(TypeORSet), byte(TypeORMap)
		v                         = formatV1
	)
	a, b := string(ra), string(rb)
	deep := raw(v)
	for range MaxDepth + 1 {
		// a map holding a map ... one level too deep
		deep = append(deep, raw(om, 1, a, 1, 0, 1, "m", om, 1, 0, 1)...)
	}
	deep = append(deep, raw(om, 0, 0, 0)...)
	for name, in := range map[string][]byte{
		"empty":                   nil,
		"unknown format":          raw(byte(2), g, 0),
		"unknown type":            raw(v, byte(99)),
		"type zero":               raw(v, byte(0)),
		"truncated":               raw(v, g, 1, a),
		"trailing bytes":          raw(v, g, 0, byte(0)),
		"too long":                make([]byte, MaxEncodedLen+1),
		"overlong varint":         raw(v, g, []byte{0x80, 0x00}),
		"bad varint":              raw(v, g, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
		"huge count":              raw(v, g, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
		"count beyond input":      raw(v, os, 0, 0, 200, "x"),
		"gcounter too many":       raw(v, g, MaxReplicas+1),
		"gcounter order":          raw(v, g, 2, b, 1, a, 1),
		"gcounter duplicate":      raw(v, g, 2, a, 1, a, 2),
		"gcounter zero":           raw(v, g, 1, a, 0),
		"gcounter bad region":     raw(v, g, 1, "US East", 1),
		"gcounter empty region":   raw(v, g, 1, "", 1),
		"region too long":         raw(v, g, 1, strings.Repeat("a", 64), 1),
		"pncounter no precision":  raw(v, pn, 0, 0, 1, a, raw(1, byte(1)), 0),
		"pncounter scale":         raw(v, pn, 39, 0, 0),
		"pncounter leading zero":  raw(v, pn, 2, 8, 1, a, raw(2, byte(0), byte(1)), 0),
		"pncounter both zero":     raw(v, pn, 2, 8, 1, a, 0, 0),
		"pncounter total":         raw(v, pn, 0, 1, 1, a, raw(10, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}), 0), // 2^72 > 10^21-1
		"pncounter total length":  raw(v, pn, 0, 1, 1, a, raw(200, make([]byte, 200)), 0),
		"bounded unused region":   raw(v, bc, 1, a, 0, 0, 0),
		"bounded self transfer":   raw(v, bc, 1, a, 5, 0, 1, 0, 0, 1),
		"bounded transfer order":  raw(v, bc, 2, a, 5, 0, b, 5, 0, 2, 1, 0, 1, 0, 1, 1),
		"bounded index":           raw(v, bc, 1, a, 5, 0, 1, 0, 7, 1),
		"bounded zero transfer":   raw(v, bc, 2, a, 5, 0, b, 0, 0, 1, 0, 1, 0),
		"lww flag":                raw(v, lw, byte(2)),
		"lww zero timestamp":      raw(v, lw, byte(1), make([]byte, 12), a, 0),
		"lww negative timestamp":  raw(v, lw, byte(1), []byte{0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, a, 0),
		"lww truncated timestamp": raw(v, lw, byte(1), []byte{0, 0, 1}),
		"context order":           raw(v, os, 2, b, 1, a, 1, 0, 0),
		"context unused region":   raw(v, os, 1, a, 0, 0, 0),
		"cloud not compact":       raw(v, os, 1, a, 1, 1, 0, 2, 0),
		"cloud covered":           raw(v, os, 1, a, 3, 1, 0, 2, 0),
		"cloud order":             raw(v, os, 1, a, 0, 2, 0, 5, 0, 3, 0),
		"cloud zero":              raw(v, os, 1, a, 0, 1, 0, 0, 0),
		"cloud covered at max":    raw(v, os, 1, a, uint64(math.MaxUint64), 1, 0, uint64(math.MaxUint64), 0),
		"dot not in context":      raw(v, os, 1, a, 1, 0, 1, "x", 1, 0, 2),
		"dot index":               raw(v, os, 1, a, 1, 0, 1, "x", 1, 1, 1),
		"element without dots":    raw(v, os, 1, a, 1, 0, 1, "x", 0),
		"element order":           raw(v, os, 1, a, 2, 0, 2, "y", 1, 0, 1, "x", 1, 0, 2),
		"element duplicate":       raw(v, os, 1, a, 2, 0, 2, "x", 1, 0, 1, "x", 1, 0, 2),
		"element too long":        raw(v, os, 1, a, 1, 0, 1, strings.Repeat("x", MaxElementLen+1), 1, 0, 1),
		"dots order":              raw(v, os, 1, a, 2, 0, 1, "x", 2, 0, 2, 0, 1),
		"mv order":                raw(v, mv, 1, a, 2, 0, 2, 0, 2, "p", 0, 1, "q"),
		"ormap bounded field":     raw(v, om, 1, a, 1, 0, 1, "b", bc, 1, 0, 1, bc, 0, 0),
		"ormap type mismatch":     raw(v, om, 1, a, 1, 0, 1, "b", g, 1, 0, 1, os, 0, 0, 0),
		"ormap unknown type":      raw(v, om, 1, a, 1, 0, 1, "b", byte(42), 1, 0, 1, g, 0),
		"ormap no values":         raw(v, om, 1, a, 1, 0, 1, "b", g, 0),
		"ormap field order":       raw(v, om, 1, a, 2, 0, 2, "b", g, 1, 0, 1, g, 0, "a", g, 1, 0, 2, g, 0),
		"ormap same name order":   raw(v, om, 1, a, 2, 0, 2, "b", os, 1, 0, 1, os, 0, 0, 0, "b", g, 1, 0, 2, g, 0),
		"ormap nested corrupt":    raw(v, om, 1, a, 1, 0, 1, "b", g, 1, 0, 1, g, 1, a, 0),
		"ormap too deep":          deep,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Decode(in)
			require.ErrorIs(t, err, xregion.ErrCorrupt, "decoded %#v", s)
			var ce *xregion.CorruptError
			require.ErrorAs(t, err, &ce)
			require.True(t, strings.HasPrefix(err.Error(), "xregion: corrupt crdt"), err.Error())
			require.Nil(t, s)
		})
	}
}

// TestExhaustedCounters: a hostile state whose region counter is at
// 2^64-1 decodes (it is well formed), and every mutation that would need a
// further dot of that region is refused rather than wrap.
func TestExhaustedCounters(t *testing.T) {
	max := uint64(math.MaxUint64)
	set := mustDecode(t, raw(formatV1, byte(TypeORSet), 1, string(ra), max, 0, 1, "x", 1, 0, max)).(ORSet)
	_, err := set.Add(ra, "y")
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = set.Add(rb, "y")
	require.NoError(t, err, "other regions are fine")
	require.Equal(t, []string{}, set.Merge(set.Remove("x")).Elements())
	near := mustDecode(t, raw(formatV1, byte(TypeORSet), 1, string(ra), max-1, 0, 0)).(ORSet)
	_, err = near.AddAll(ra, "a")
	require.NoError(t, err)
	_, err = near.AddAll(ra, "a", "b")
	require.ErrorIs(t, err, xregion.ErrInvalid)
	mv := mustDecode(t, raw(formatV1, byte(TypeMVRegister), 1, string(ra), max, 0, 0)).(MVRegister)
	_, err = mv.Set(ra, nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	m := mustDecode(t, raw(formatV1, byte(TypeORMap), 1, string(ra), max, 0, 0)).(ORMap)
	_, err = m.Update(ra, "f", GCounter{})
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

// TestDecode_acceptsTheLimits: what is within the limits decodes.
func TestDecode_acceptsTheLimits(t *testing.T) {
	inner := ORMap{}
	for range MaxDepth - 1 {
		d, err := ORMap{}.Update(ra, "m", inner)
		require.NoError(t, err)
		inner = d
	}
	mustDecode(t, encoded(inner))

	pn, _ := NewPNCounter(MaxPrecision, 0)
	d, err := pn.Add(ra, dec(strings.Repeat("9", MaxPrecision)))
	require.NoError(t, err)
	mustDecode(t, encoded(d))

	s, err := ORSet{}.Add(ra, strings.Repeat("x", MaxElementLen))
	require.NoError(t, err)
	mustDecode(t, encoded(s))
}
