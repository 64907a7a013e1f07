package crdt

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/xregion/xregion"
)

// Fuzz targets for every decoder: bytes that arrive from another region
// are untrusted. Each typed target fuzzes the body behind a fixed format
// byte and type tag, so the fuzzer spends its time inside that type's
// decoder; FuzzDecode fuzzes whole encodings. Found crashers live in
// testdata/fuzz/<target> and run with every go test.
//
//	go test -run xxx -fuzz '^FuzzDecodeORSet$' -fuzztime 60s -parallel 1 ./crdt/

func FuzzDecodeGCounter(f *testing.F)       { fuzzType(f, TypeGCounter) }
func FuzzDecodePNCounter(f *testing.F)      { fuzzType(f, TypePNCounter) }
func FuzzDecodeBoundedCounter(f *testing.F) { fuzzType(f, TypeBoundedCounter) }
func FuzzDecodeLWWRegister(f *testing.F)    { fuzzType(f, TypeLWWRegister) }
func FuzzDecodeMVRegister(f *testing.F)     { fuzzType(f, TypeMVRegister) }
func FuzzDecodeORSet(f *testing.F)          { fuzzType(f, TypeORSet) }
func FuzzDecodeORMap(f *testing.F)          { fuzzType(f, TypeORMap) }

// FuzzDecode fuzzes whole encodings, format byte and type tag included.
func FuzzDecode(f *testing.F) {
	seeds := seedStates(f)
	for _, s := range seeds {
		f.Add(encoded(s))
	}
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	f.Add([]byte{2, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecoded(t, b, seeds)
	})
}

func fuzzType(f *testing.F, typ Type) {
	seeds := seedStates(f)
	var same []State
	for _, s := range seeds {
		if s.Type() == typ {
			same = append(same, s)
			f.Add(encoded(s)[2:])
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, append([]byte{formatV1, byte(typ)}, body...), same)
	})
}

// checkDecoded decodes b and, if it decodes, holds the state to what
// states built by operations promise: a canonical encoding, merges that
// are joins (with itself and with valid states of its type), and
// operations that neither panic nor build states the decoder refuses.
func checkDecoded(t *testing.T, b []byte, others []State) {
	s, err := Decode(b)
	if err != nil {
		var ce *xregion.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, xregion.ErrCorrupt) {
			t.Fatalf("error %v is not a *xregion.CorruptError", err)
		}
		if s != nil {
			t.Fatalf("a state (%T) with an error", s)
		}
		return
	}
	if got := encoded(s); string(got) != string(b) {
		t.Fatalf("not canonical: decoded and encoded again\n got %x\nwant %x", got, b)
	}
	if enc(mergeSame(s, s)) != string(b) {
		t.Fatalf("merge with itself changed the state")
	}
	for _, o := range others {
		if o.Type() != s.Type() {
			continue
		}
		so, os := mergeSame(s, o), mergeSame(o, s)
		if enc(so) != enc(os) {
			t.Fatalf("merge is not commutative with %x", encoded(o))
		}
		if enc(mergeSame(so, s)) != enc(so) || enc(mergeSame(so, o)) != enc(so) {
			t.Fatalf("a merge does not include its arguments")
		}
		decodable(t, so)
	}
	exercise(t, s)
	if string(encoded(s)) != string(b) {
		t.Fatalf("an operation modified the state")
	}
}

// decodable checks that a state within the limits encodes to bytes that
// decode to it.
func decodable(t *testing.T, s State) {
	if withinReplicas(s) != nil {
		return // merging two states can pass MaxReplicas; the Resolver refuses it
	}
	b := encoded(s)
	if len(b) > MaxEncodedLen {
		return
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("a merged or mutated state does not decode: %v\n%x", err, b)
	}
	if enc(got) != string(b) {
		t.Fatalf("a merged or mutated state does not encode canonically")
	}
}

// exercise runs every read and some mutations of s: none may panic, and
// what they build must decode.
func exercise(t *testing.T, s State) {
	apply := func(d State, err error) {
		if err == nil {
			decodable(t, d)
			decodable(t, mergeSame(s, d))
		}
	}
	switch s := s.(type) {
	case GCounter:
		_ = s.Value()
		for _, r := range regions {
			apply(s.Inc(r, 7))
		}
	case PNCounter:
		_ = s.Value().String()
		for _, r := range regions {
			apply(s.Add(r, dec("-1.5")))
		}
	case BoundedCounter:
		_ = s.Value()
		for _, r := range s.regions() {
			_ = s.Rights(r)
			apply(s.Dec(r, 1))
			apply(s.Transfer(r, rc, 1))
		}
		apply(s.Inc(ra, 3))
	case LWWRegister:
		_, _ = s.Value()
		apply(s.Set(xregion.Version{Time: s.Version().Time.Next(), Region: rc}, []byte("x")))
	case MVRegister:
		_ = s.Values()
		for _, r := range regions {
			apply(s.Set(r, []byte("x")))
		}
		apply(s.Clear(), nil)
	case ORSet:
		for _, e := range s.Elements() {
			_ = s.Contains(e)
			apply(s.Remove(e), nil)
		}
		for _, r := range regions {
			apply(s.Add(r, "x"))
		}
		apply(s.Clear(), nil)
	case ORMap:
		for _, k := range s.Keys() {
			v, _ := s.Value(k.Name, k.Type)
			exercise(t, v)
			apply(s.Remove(k.Name), nil)
			if d := depth(v); 1+d <= MaxDepth {
				apply(s.Update(ra, k.Name, v))
			}
		}
		for _, r := range regions {
			apply(s.Update(r, "new", GCounter{}))
		}
	}
}

// seedStates returns valid states of every type: the samples, and states
// from short random histories (deltas and states with clouds included).
func seedStates(t testing.TB) []State {
	out := samples(t)
	rng := rand.New(rand.NewPCG(11, 11))
	var set [3]ORSet
	var mv [3]MVRegister
	for i := range 30 {
		r := rng.IntN(3)
		x := setElems[rng.IntN(len(setElems))]
		d, _ := set[r].Add(regions[r], x)
		if i%3 == 0 {
			d = set[r].Remove(x)
		}
		set[r] = set[r].Merge(d)
		dm, _ := mv[r].Set(regions[r], []byte(x))
		mv[r] = mv[r].Merge(dm)
		if i%5 == 0 {
			out = append(out, d, dm, set[r], mv[r])
			set[(r+1)%3] = set[(r+1)%3].Merge(d) // a delta out of order: a cloud
		}
	}
	// States of every type after random histories (maps holding every
	// type it may, nested).
	pn, _ := NewPNCounter(8, 2)
	for _, start := range []State{GCounter{}, pn, BoundedCounter{}, LWWRegister{}, MVRegister{}, ORSet{}, ORMap{}} {
		st := start
		for i := range 40 {
			if d := randomDelta(rng, st, regions[rng.IntN(3)]); d != nil {
				st = mergeSame(st, d)
				if i%10 == 0 {
					out = append(out, d)
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// FuzzResolve: Resolve never panics whatever two values it is given, and
// what it returns is a valid resolution whose value decodes.
func FuzzResolve(f *testing.F) {
	states := seedStates(f)
	for i, s := range states {
		f.Add(encoded(s), encoded(states[(i+1)%len(states)]), int64(i))
	}
	f.Add([]byte{}, []byte{formatV1}, int64(0))
	res, _ := newTestResolver(f, rc)
	f.Fuzz(func(t *testing.T, local, incoming []byte, ms int64) {
		l := xregion.Record{Key: "k", Value: local, Version: ver(ms%1000, ra)}
		in := xregion.Record{Key: "k", Value: incoming, Version: ver(500, rb)}
		if len(local) == 0 {
			l = xregion.Record{}
		}
		got, err := res.Resolve(l, in)
		if err != nil {
			return
		}
		if got.Lost != nil {
			t.Fatal("a CRDT resolution reported a lost write")
		}
		if !got.Changed {
			return
		}
		if err := got.Check("t", in); err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(got.Record.Value); err != nil {
			t.Fatalf("resolved value does not decode: %v", err)
		}
		again, err := res.Resolve(got.Record, in)
		if err != nil || again.Changed {
			t.Fatalf("resolving the same write again changed something: %v", err)
		}
	})
}
