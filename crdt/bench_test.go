package crdt

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// Benchmarks measure; they assert nothing about speed. bench/crdt prints
// the same figures as a table (and JSON), with the ORSet metadata figure.
//
//	go test -run xxx -bench . -benchmem ./crdt/

// bigSets returns two regions' copies of a set of n elements, each with
// 1% of elements changed concurrently since they last synced.
func bigSets(b *testing.B, n int) (ORSet, ORSet) {
	b.Helper()
	elems := make([]string, n)
	for i := range elems {
		elems[i] = fmt.Sprintf("sku-%07d", i)
	}
	var base ORSet
	for r, reg := range regions {
		d, err := base.AddAll(reg, elems[r*n/3:(r+1)*n/3]...)
		if err != nil {
			b.Fatal(err)
		}
		base = base.Merge(d)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var added []string
	var removed ORSet
	for range n / 100 {
		e := elems[rng.IntN(n)]
		if rng.IntN(2) == 0 {
			added = append(added, e)
		} else {
			removed = removed.Merge(base.Remove(e))
		}
	}
	d, err := base.AddAll(ra, added...)
	if err != nil {
		b.Fatal(err)
	}
	return base.Merge(d), base.Merge(removed)
}

func BenchmarkORSet_Merge(b *testing.B) {
	x, y := bigSets(b, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = x.Merge(y)
	}
	b.ReportMetric(float64(x.Len())*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
}

func BenchmarkORSet_MergeDelta(b *testing.B) {
	x, _ := bigSets(b, 100_000)
	d, _ := x.Add(rb, "sku-0004242")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = x.Merge(d)
	}
}

func BenchmarkORSet_Encode(b *testing.B) {
	x, _ := bigSets(b, 100_000)
	n := len(encoded(x))
	buf := make([]byte, 0, n)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, _ = AppendEncode(buf[:0], x)
	}
	b.ReportMetric(float64(x.Len())*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
}

func BenchmarkORSet_Decode(b *testing.B) {
	x, _ := bigSets(b, 100_000)
	enc := encoded(x)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(x.Len())*float64(b.N)/b.Elapsed().Seconds(), "elements/s")
}

// threeRegions returns one counter state per region, each having counted
// in its own region and merged the others' earlier states.
func threeRegions[T State](b *testing.B, zero T, inc func(T, int) (T, error), merge func(T, T) T) [3]T {
	b.Helper()
	var s [3]T
	for i := range s {
		s[i] = zero
	}
	for round := range 50 {
		for r := range s {
			d, err := inc(s[r], r)
			if err != nil {
				b.Fatal(err)
			}
			s[r] = merge(s[r], d)
		}
		if round%10 != 9 {
			s[(round+1)%3] = merge(s[(round+1)%3], s[round%3])
		}
	}
	return s
}

func benchMerge3[T State](b *testing.B, s [3]T, merge func(T, T) T) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = merge(merge(s[0], s[1]), s[2])
	}
}

func BenchmarkGCounter_Merge3(b *testing.B) {
	s := threeRegions(b, GCounter{}, func(c GCounter, r int) (GCounter, error) { return c.Inc(regions[r], 7) }, GCounter.Merge)
	benchMerge3(b, s, GCounter.Merge)
}

func BenchmarkPNCounter_Merge3(b *testing.B) {
	zero, _ := NewPNCounter(18, 2)
	amount := apd.New(-1999, -2)
	s := threeRegions(b, zero, func(c PNCounter, r int) (PNCounter, error) {
		amount.Negative = !amount.Negative
		return c.Add(regions[r], amount)
	}, PNCounter.Merge)
	benchMerge3(b, s, PNCounter.Merge)
}

func BenchmarkBoundedCounter_Merge3(b *testing.B) {
	s := threeRegions(b, BoundedCounter{}, func(c BoundedCounter, r int) (BoundedCounter, error) {
		if d, err := c.Dec(regions[r], 3); err == nil {
			return d, nil
		}
		return c.Inc(regions[r], 10)
	}, BoundedCounter.Merge)
	benchMerge3(b, s, BoundedCounter.Merge)
}

func BenchmarkPNCounter_Encode(b *testing.B) {
	zero, _ := NewPNCounter(18, 2)
	amount := apd.New(1999, -2)
	s := threeRegions(b, zero, func(c PNCounter, r int) (PNCounter, error) { return c.Add(regions[r], amount) }, PNCounter.Merge)
	m := s[0].Merge(s[1]).Merge(s[2])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(encoded(m)); err != nil {
			b.Fatal(err)
		}
	}
}
