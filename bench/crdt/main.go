// Command crdt measures the CRDT package: merge, encode and decode
// throughput of an ORSet of 100,000 elements, merges of counters across 3
// regions, and the metadata an ORSet carries per element after 1,000,000
// adds and removes on 1,000 elements (it must not grow with the removes).
// It prints a table, or JSON lines with -json.
//
//	go run ./bench/crdt
//	go run ./bench/crdt -json
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
)

var regions = []xregion.Region{"ap-south-1", "eu-west-1", "us-east-1"}

// result is one line of output.
type result struct {
	Name   string  `json:"name"`
	What   string  `json:"what"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	NsOp   float64 `json:"ns_per_op,omitempty"`
	Allocs int64   `json:"allocs_per_op,omitempty"`
}

func main() {
	asJSON := flag.Bool("json", false, "print JSON lines instead of a table")
	ops := flag.Int("ops", 1_000_000, "adds and removes for the metadata figure")
	flag.Parse()
	testing.Init()

	var out []result
	out = append(out, orsetThroughput(100_000)...)
	out = append(out, counters()...)
	out = append(out, metadata(1_000, *ops)...)

	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range out {
			if err := enc.Encode(r); err != nil {
				log.Fatal(err)
			}
		}
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tvalue\tunit\tns/op\tallocs/op\t")
	for _, r := range out {
		ns, allocs := "", ""
		if r.NsOp > 0 {
			ns = fmt.Sprintf("%.0f", r.NsOp)
			allocs = fmt.Sprint(r.Allocs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Name, human(r.Value), r.Unit, ns, allocs)
	}
	tw.Flush()
	fmt.Println()
	for _, r := range out {
		fmt.Printf("%-28s %s\n", r.Name, r.What)
	}
}

func human(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// bigSets returns two regions' copies of a set of n elements, added a
// third by each region, then changed concurrently: 0.5% of the elements
// added again in one, 0.5% removed in the other.
func bigSets(n int) (crdt.ORSet, crdt.ORSet) {
	elems := make([]string, n)
	for i := range elems {
		elems[i] = fmt.Sprintf("sku-%07d", i)
	}
	var base crdt.ORSet
	for r, reg := range regions {
		base = base.Merge(must(base.AddAll(reg, elems[r*n/3:(r+1)*n/3]...)))
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var added []string
	var removed crdt.ORSet
	for range n / 100 {
		e := elems[rng.IntN(n)]
		if rng.IntN(2) == 0 {
			added = append(added, e)
		} else {
			removed = removed.Merge(base.Remove(e))
		}
	}
	return base.Merge(must(base.AddAll(regions[0], added...))), base.Merge(removed)
}

func bench(name, what string, per float64, unit string, f func(b *testing.B)) result {
	r := testing.Benchmark(f)
	ns := float64(r.T.Nanoseconds()) / float64(r.N)
	return result{Name: name, What: what, Value: per / ns * 1e9, Unit: unit, NsOp: ns, Allocs: r.AllocsPerOp()}
}

func orsetThroughput(n int) []result {
	x, y := bigSets(n)
	enc := must(crdt.Encode(x))
	delta := must(x.Add(regions[1], "sku-0004242"))
	buf := make([]byte, 0, len(enc))
	return []result{
		bench("orset-merge", fmt.Sprintf("merge two regions' copies of a %d-element ORSet (1%% changed concurrently)", n), float64(n), "elements/s", func(b *testing.B) {
			for b.Loop() {
				_ = x.Merge(y)
			}
		}),
		bench("orset-merge-delta", fmt.Sprintf("merge a one-element delta into a %d-element ORSet", n), 1, "merges/s", func(b *testing.B) {
			for b.Loop() {
				_ = x.Merge(delta)
			}
		}),
		bench("orset-encode", fmt.Sprintf("encode a %d-element ORSet (%d bytes)", n, len(enc)), float64(len(enc))/1e6, "MB/s", func(b *testing.B) {
			for b.Loop() {
				buf = must(crdt.AppendEncode(buf[:0], x))
			}
		}),
		bench("orset-decode", fmt.Sprintf("decode a %d-element ORSet (%d bytes), checking it", n, len(enc)), float64(len(enc))/1e6, "MB/s", func(b *testing.B) {
			for b.Loop() {
				must(crdt.Decode(enc))
			}
		}),
	}
}

// counters merges counters held by 3 regions, each having counted in its
// own region and received some of the others' states.
func counters() []result {
	var g [3]crdt.GCounter
	pn0 := must(crdt.NewPNCounter(18, 2))
	p := [3]crdt.PNCounter{pn0, pn0, pn0}
	var bc [3]crdt.BoundedCounter
	amount := apd.New(1999, -2)
	for round := range 60 {
		for r, reg := range regions {
			g[r] = g[r].Merge(must(g[r].Inc(reg, 3)))
			amount.Negative = round%3 == 0
			p[r] = p[r].Merge(must(p[r].Add(reg, amount)))
			if d, err := bc[r].Dec(reg, 2); err == nil {
				bc[r] = bc[r].Merge(d)
			} else {
				bc[r] = bc[r].Merge(must(bc[r].Inc(reg, 10)))
			}
		}
		k := round % 3
		g[(k+1)%3], p[(k+1)%3], bc[(k+1)%3] = g[(k+1)%3].Merge(g[k]), p[(k+1)%3].Merge(p[k]), bc[(k+1)%3].Merge(bc[k])
	}
	pnAll := p[0].Merge(p[1]).Merge(p[2])
	pnEnc := must(crdt.Encode(pnAll))
	return []result{
		bench("gcounter-merge-3", "merge 3 regions' GCounters", 1, "merges/s", func(b *testing.B) {
			for b.Loop() {
				_ = g[0].Merge(g[1]).Merge(g[2])
			}
		}),
		bench("pncounter-merge-3", "merge 3 regions' PNCounters, NUMERIC(18,2)", 1, "merges/s", func(b *testing.B) {
			for b.Loop() {
				_ = p[0].Merge(p[1]).Merge(p[2])
			}
		}),
		bench("boundedcounter-merge-3", "merge 3 regions' BoundedCounters", 1, "merges/s", func(b *testing.B) {
			for b.Loop() {
				_ = bc[0].Merge(bc[1]).Merge(bc[2])
			}
		}),
		bench("pncounter-encode", fmt.Sprintf("encode a 3-region PNCounter (%d bytes)", len(pnEnc)), 1, "encodes/s", func(b *testing.B) {
			for b.Loop() {
				must(crdt.Encode(pnAll))
			}
		}),
		bench("pncounter-decode", fmt.Sprintf("decode a 3-region PNCounter (%d bytes)", len(pnEnc)), 1, "decodes/s", func(b *testing.B) {
			for b.Loop() {
				must(crdt.Decode(pnEnc))
			}
		}),
		bench("pncounter-value", "exact decimal value of a 3-region PNCounter", 1, "reads/s", func(b *testing.B) {
			for b.Loop() {
				_ = pnAll.Value()
			}
		}),
	}
}

// metadataPerElement is the encoding of s less its elements' own bytes
// (and their length prefixes), per element.
func metadataPerElement(s crdt.ORSet) (perElement float64, total int) {
	total = len(must(crdt.Encode(s)))
	payload := 0
	for _, e := range s.Elements() {
		payload += len(binary.AppendUvarint(nil, uint64(len(e)))) + len(e)
	}
	if s.Len() == 0 {
		return 0, total
	}
	return float64(total-payload) / float64(s.Len()), total
}

// metadata runs ops adds and removes on a set of n elements across 3
// regions that sync every 1,000 operations, and reports the metadata per
// element at checkpoints: it must not grow with the removes.
func metadata(n, ops int) []result {
	elems := make([]string, n)
	for i := range elems {
		elems[i] = fmt.Sprintf("item-%04d", i)
	}
	var s [3]crdt.ORSet
	for r, reg := range regions {
		s[r] = must(crdt.ORSet{}.AddAll(reg, elems[r*n/3:(r+1)*n/3]...))
	}
	all := s[0].Merge(s[1]).Merge(s[2])
	s = [3]crdt.ORSet{all, all, all}
	var out []result
	checkpoint := func(done int, set crdt.ORSet, note string) {
		per, total := metadataPerElement(set)
		out = append(out, result{
			Name:  fmt.Sprintf("orset-metadata-%d", done),
			What:  fmt.Sprintf("ORSet metadata per element after %d adds/removes on %d elements%s: %d bytes, %d elements", done, n, note, total, set.Len()),
			Value: per, Unit: "bytes/element",
		})
	}
	checkpoint(0, all, "")
	rng := rand.New(rand.NewPCG(2, 2))
	start := time.Now()
	for i := 1; i <= ops; i++ {
		r := rng.IntN(3)
		e := elems[rng.IntN(n)]
		if s[r].Contains(e) {
			s[r] = s[r].Merge(s[r].Remove(e))
		} else {
			s[r] = s[r].Merge(must(s[r].Add(regions[r], e)))
		}
		if i%1000 == 0 {
			x, y := rng.IntN(3), rng.IntN(3)
			s[y] = s[y].Merge(s[x])
		}
		if i == ops/100 || i == ops/10 || i == ops {
			checkpoint(i, s[0].Merge(s[1]).Merge(s[2]), "")
		}
	}
	elapsed := time.Since(start)
	final := s[0].Merge(s[1]).Merge(s[2])
	final = final.Merge(must(final.AddAll(regions[0], elems...)))
	checkpoint(ops, final, ", then every element added back")
	out = append(out, result{Name: "orset-ops", What: fmt.Sprintf("adds/removes on a %d-element ORSet, each merged into the region's state", n),
		Value: float64(ops) / elapsed.Seconds(), Unit: "ops/s", NsOp: float64(elapsed.Nanoseconds()) / float64(ops)})
	return out
}
