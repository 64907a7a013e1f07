package crdt

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/xregion/xregion"
)

// randomDelta makes a random mutation of s in region r and returns its
// delta (nil if the mutation was refused, as a decrement without rights
// is).
func randomDelta(rng *rand.Rand, s State, r xregion.Region) State {
	x := setElems[rng.IntN(len(setElems))]
	var d State
	var err error
	switch s := s.(type) {
	case GCounter:
		d, err = s.Inc(r, uint64(rng.IntN(9)+1))
	case PNCounter:
		d, err = s.Add(r, apd.New(rng.Int64N(2001)-1000, -int32(rng.IntN(s.Scale()+1))))
	case BoundedCounter:
		switch rng.IntN(3) {
		case 0:
			d, err = s.Inc(r, uint64(rng.IntN(9)+1))
		case 1:
			d, err = s.Dec(r, uint64(rng.IntN(5)+1))
		default:
			d, err = s.Transfer(r, regions[rng.IntN(3)], uint64(rng.IntN(5)+1))
		}
	case LWWRegister:
		v := s.Version()
		v.Time, v.Region = v.Time.Next(), r
		if v.Time.WallTime < ts(0).WallTime {
			v.Time = ts(int64(rng.IntN(5)))
		}
		d, err = s.Set(v, []byte(x))
	case MVRegister:
		if rng.IntN(5) == 0 {
			return s.Clear()
		}
		d, err = s.Set(r, []byte(x))
	case ORSet:
		switch rng.IntN(5) {
		case 0, 1:
			d, err = s.Add(r, x)
		case 2:
			d, err = s.AddAll(r, x, setElems[rng.IntN(len(setElems))])
		case 3:
			return s.Remove(x)
		default:
			return s.Clear()
		}
	case ORMap:
		name := mapNames[rng.IntN(len(mapNames))]
		if rng.IntN(4) == 0 {
			return s.Remove(name)
		}
		typ := []Type{TypeGCounter, TypeORSet, TypeMVRegister, TypeLWWRegister, TypeORMap}[rng.IntN(5)]
		cur, ok := s.Value(name, typ)
		if !ok {
			cur = zeroOf(typ)
		}
		nested := randomDelta(rng, cur, r)
		if nested == nil || 1+depth(nested) > 2 {
			return nil // keep test maps two levels deep
		}
		d, err = s.Update(r, name, nested)
	}
	if err != nil {
		return nil
	}
	return d
}

// TestLaws: for every type, on states from random histories of every
// kind of mutation (maps holding every type but the bounded counter, nested
// two deep; PN counters declared with different limits), merge is
// commutative, associative and idempotent, and shipping a region's deltas
// to a peer gives the peer what shipping the region's state would.
func TestLaws(t *testing.T) {
	t.Parallel()
	pn2, _ := NewPNCounter(8, 2)
	pn4, _ := NewPNCounter(10, 4)
	for _, start := range []State{GCounter{}, pn2, BoundedCounter{}, LWWRegister{}, MVRegister{}, ORSet{}, ORMap{}} {
		t.Run(start.Type().String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(start.Type()), 99))
			var pool []State
			for trial := range 400 {
				// A shared past, then region x and region y go their ways.
				s0 := start
				if start.Type() == TypePNCounter && trial%2 == 1 {
					s0 = pn4
				}
				for range rng.IntN(8) {
					if d := randomDelta(rng, s0, regions[rng.IntN(3)]); d != nil {
						s0 = mergeSame(s0, d)
					}
				}
				x, y := s0, s0
				var deltas []State
				for range rng.IntN(6) + 1 {
					if d := randomDelta(rng, x, regions[0]); d != nil {
						deltas = append(deltas, d)
						x = mergeSame(x, d)
					}
					if d := randomDelta(rng, y, regions[1+rng.IntN(2)]); d != nil {
						y = mergeSame(y, d)
					}
				}
				// The deltas, in order and in any order, give y what x's
				// state gives it.
				want := enc(mergeSame(y, x))
				got := y
				for _, d := range deltas {
					got = mergeSame(got, d)
				}
				if enc(got) != want {
					t.Fatalf("trial %d: merging the deltas in order differs from merging the state", trial)
				}
				got = y
				for _, k := range rng.Perm(len(deltas)) {
					got = mergeSame(got, deltas[k])
				}
				if enc(got) != want {
					t.Fatalf("trial %d: merging the deltas out of order differs from merging the state", trial)
				}
				pool = append(pool, s0, x, y)
				pool = append(pool, deltas...)
			}
			checkLaws(t, rng, pool, mergeSame, 3000)
		})
	}
}

func TestType_String(t *testing.T) {
	for typ := TypeGCounter; typ <= TypeORMap; typ++ {
		if typ.String() != zeroOf(typ).Type().String() || !typ.valid() {
			t.Fatal(typ)
		}
	}
	if Type(0).String() != "Type(0)" || Type(0).valid() || Type(8).valid() {
		t.Fatal("unknown types")
	}
	_ = fmt.Sprint(Type(200))
}
