package crdt

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

var setElems = []string{"a", "b", "c", "d", "e"}

// TestORSet_reference: a region's set holds exactly the elements of the
// adds it knows that no remove (or later add of the same element) it knows
// had observed, whatever order deltas and states arrive in.
func TestORSet_reference(t *testing.T) {
	t.Parallel()
	historySeeds(t, 2000, func(t *testing.T, rng *rand.Rand) {
		s := newSim(t, rng, ORSet.Merge, ORSet{})
		addsOf := func(x string) uint64 { return s.masks["adds|"+x] }
		// observed returns, for each of elems, the adds region r holds.
		observed := func(r int, elems ...string) map[string]uint64 {
			obs := make(map[string]uint64, len(elems))
			for _, x := range elems {
				obs[x] = s.live(s.know[r], addsOf(x), x)
			}
			return obs
		}
		s.run(100, func(r int) {
			s.mutate(r, func(set ORSet) event {
				x := setElems[rng.IntN(len(setElems))]
				switch k := rng.IntN(20); {
				case k < 9:
					d, err := set.Add(regions[r], x)
					if err != nil {
						t.Fatal(err)
					}
					return event{op: "add", adds: []string{x}, obs: observed(r, x), delta: d}
				case k < 11:
					y := setElems[rng.IntN(len(setElems))]
					d, err := set.AddAll(regions[r], x, y, x)
					if err != nil {
						t.Fatal(err)
					}
					return event{op: "add", adds: []string{x, y}, obs: observed(r, x, y), delta: d}
				case k < 19:
					return event{op: "remove", obs: observed(r, x), delta: set.Remove(x)}
				default:
					return event{op: "clear", obs: observed(r, setElems...), delta: set.Clear()}
				}
			})
		}, func(r int) {
			var want []string
			for _, x := range setElems {
				if s.live(s.know[r], addsOf(x), x) != 0 {
					want = append(want, x)
				}
			}
			got := s.state[r].Elements()
			if !slices.Equal(want, got) {
				t.Fatalf("region %d holds %q, want %q", r, got, want)
			}
			for _, x := range setElems {
				same(t, slices.Contains(want, x), s.state[r].Contains(x))
			}
			same(t, len(want), s.state[r].Len())
		})
		checkLaws(t, rng, s.pool, ORSet.Merge, 10)
	})
}

func TestORSet_addWins(t *testing.T) {
	var s ORSet
	d, err := s.Add(ra, "sku-1")
	require.NoError(t, err)
	s = s.Merge(d)

	// ra removes sku-1 while rb, which has seen it, adds it again.
	removed := s.Merge(s.Remove("sku-1"))
	again, err := s.Add(rb, "sku-1")
	require.NoError(t, err)
	require.True(t, removed.Merge(s.Merge(again)).Contains("sku-1"), "the add the remove did not observe wins")
	require.True(t, s.Merge(again).Merge(removed).Contains("sku-1"))

	// A remove that has seen the add removes it.
	both := removed.Merge(s.Merge(again))
	gone := both.Merge(both.Remove("sku-1"))
	require.False(t, gone.Contains("sku-1"))
	require.Equal(t, enc(gone), enc(gone.Merge(d).Merge(again)), "late deltas of observed adds do not bring it back")

	// Removing what is not there is the empty delta.
	require.Equal(t, enc(ORSet{}), enc(gone.Remove("nothing")))
}

// TestORSet_noTombstones: the encoding after any number of adds and removes
// is as large as that of a set built once with the same elements from the
// same regions: removes leave nothing, and adds of an element already
// there replace its dot.
func TestORSet_noTombstones(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var s [3]ORSet
	elems := make([]string, 100)
	for i := range elems {
		elems[i] = fmt.Sprintf("element-%03d", i)
	}
	for r := range s {
		d, err := s[r].AddAll(regions[r], elems...)
		require.NoError(t, err)
		s[r] = s[r].Merge(d)
	}
	s[0] = s[0].Merge(s[1]).Merge(s[2])
	s[1], s[2] = s[0], s[0]
	before := len(encoded(s[0]))
	for i := range 20_000 {
		r := i % 3
		x := elems[rng.IntN(len(elems))]
		if rng.IntN(2) == 0 {
			d, err := s[r].Add(regions[r], x)
			require.NoError(t, err)
			s[r] = s[r].Merge(d)
		} else {
			s[r] = s[r].Merge(s[r].Remove(x))
		}
		if i%100 == 99 {
			s[(r+1)%3] = s[(r+1)%3].Merge(s[r])
		}
	}
	// Put every element back everywhere, once, and converge.
	for r := range s {
		d, err := s[r].AddAll(regions[r], elems...)
		require.NoError(t, err)
		s[r] = s[r].Merge(d)
	}
	all := s[0].Merge(s[1]).Merge(s[2])
	require.Equal(t, len(elems), all.Len())
	after := len(encoded(all))
	// Counters grew from 3 digits to 5, and each element holds at most
	// one dot per region: the size may not grow with the 20,000 operations
	// beyond the longer varints.
	require.LessOrEqual(t, after, before+len(elems)*3*2, "before %d bytes, after %d", before, after)
	require.Empty(t, all.ctx.cloud, "merged full states leave no cloud")
	require.Len(t, all.ctx.vv, 3, "the context is one counter per region")
}

func TestORSet_AddAll(t *testing.T) {
	var s ORSet
	d, err := s.AddAll(ra, "b", "a", "b", "c")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, s.Merge(d).Elements())
	one := s
	for _, x := range []string{"b", "a", "c"} {
		d, err := one.Add(ra, x)
		require.NoError(t, err)
		one = one.Merge(d)
	}
	require.Equal(t, s.Merge(d).Elements(), one.Elements())

	_, err = s.Add(ra, strings.Repeat("x", MaxElementLen+1))
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = s.Add(ra, strings.Repeat("x", MaxElementLen))
	require.NoError(t, err)
	_, err = s.Add("", "x")
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

// TestORSet_deltaIsSmall: a mutation's delta does not grow with the set.
func TestORSet_deltaIsSmall(t *testing.T) {
	var s ORSet
	elems := make([]string, 10_000)
	for i := range elems {
		elems[i] = fmt.Sprintf("e%05d", i)
	}
	d, err := s.AddAll(ra, elems...)
	require.NoError(t, err)
	s = s.Merge(d)
	add, err := s.Add(rb, "e00042")
	require.NoError(t, err)
	require.Less(t, len(encoded(add)), 64)
	require.Less(t, len(encoded(s.Remove("e00042"))), 64)
	require.Equal(t, 10_000, s.Merge(add).Len())
	require.Equal(t, 9_999, s.Merge(s.Remove("e00042")).Len())
}

// TestORSet_deltaFromAStaleState pins down the hazard Write documents: a
// delta must come from a state holding the region's own earlier writes. One
// made from the empty state reuses the region's first dot.
func TestORSet_deltaFromAStaleState(t *testing.T) {
	stored, err := ORSet{}.Add(ra, "y")
	require.NoError(t, err)
	blind, err := ORSet{}.Add(ra, "x") // should have been stored.Add
	require.NoError(t, err)
	require.Empty(t, stored.Merge(blind).Elements(), "the two adds share a dot: each removes the other")
	good, err := stored.Add(ra, "x")
	require.NoError(t, err)
	require.Equal(t, []string{"x", "y"}, stored.Merge(good).Elements())
}
