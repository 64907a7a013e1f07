package crdt

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

var (
	mapNames = []string{"x", "y"}
	mapTypes = []Type{TypeGCounter, TypeORSet, TypeORMap}
)

func fieldKey(name string, t Type) string { return name + "/" + t.String() }

// TestORMap_reference: a region's map holds exactly the fields with an
// update it knows that no remove (or later update of the field) it knows had
// observed, and each field's value is the merge of the values those updates
// wrote, each being what its region held merged with the update. Fields
// hold counters, sets and maps (nested one level).
func TestORMap_reference(t *testing.T) {
	t.Parallel()
	historySeeds(t, 1000, func(t *testing.T, rng *rand.Rand) {
		s := newSim(t, rng, ORMap.Merge, ORMap{})
		updatesOf := func(k string) uint64 { return s.of(k, "update") }
		view := func(known uint64, k string) State {
			var v State
			for l := s.live(known, updatesOf(k), k); l != 0; l &= l - 1 {
				x := s.events[bits.TrailingZeros64(l)].value
				if v == nil {
					v = x
				} else {
					v = mergeSame(v, x)
				}
			}
			return v
		}
		s.run(80, func(r int) {
			name := mapNames[rng.IntN(len(mapNames))]
			s.mutate(r, func(m ORMap) event {
				if rng.IntN(4) == 0 {
					obs := map[string]uint64{}
					for _, t := range mapTypes {
						k := fieldKey(name, t)
						obs[k] = s.live(s.know[r], updatesOf(k), k)
					}
					return event{op: "remove", obs: obs, delta: m.Remove(name)}
				}
				typ := mapTypes[rng.IntN(len(mapTypes))]
				k := fieldKey(name, typ)
				cur, ok := m.Value(name, typ)
				if !ok {
					cur = zeroOf(typ)
				}
				nested := randomNestedDelta(t, rng, regions[r], cur)
				d, err := m.Update(regions[r], name, nested)
				if err != nil {
					t.Fatal(err)
				}
				value := nested
				if v := view(s.know[r], k); v != nil {
					value = mergeSame(v, nested)
				}
				same(t, enc(value), enc(d.entries[0].vals[0].v), "the update writes what the region held merged with the update")
				return event{op: "update", elem: k, obs: map[string]uint64{k: s.live(s.know[r], updatesOf(k), k)}, value: value, delta: d}
			})
		}, func(r int) {
			var want []Key
			for _, name := range mapNames {
				for _, typ := range mapTypes {
					k := fieldKey(name, typ)
					v := view(s.know[r], k)
					got, ok := s.state[r].Value(name, typ)
					same(t, v != nil, ok, "field %s present", k)
					if v != nil {
						want = append(want, Key{name, typ})
						same(t, enc(v), enc(got), "value of field %s", k)
					}
				}
			}
			slices.SortFunc(want, Key.compare)
			if !slices.Equal(want, s.state[r].Keys()) {
				t.Fatalf("region %d has fields %v, want %v", r, s.state[r].Keys(), want)
			}
		})
		checkLaws(t, rng, s.pool, ORMap.Merge, 10)
	})
}

// randomNestedDelta makes a random mutation of cur, a field's value, in
// region r.
func randomNestedDelta(t *testing.T, rng *rand.Rand, r xregion.Region, cur State) State {
	var d State
	var err error
	switch v := cur.(type) {
	case GCounter:
		d, err = v.Inc(r, uint64(rng.IntN(9)+1))
	case ORSet:
		x := []string{"p", "q"}[rng.IntN(2)]
		switch rng.IntN(5) {
		case 0, 1, 2:
			d, err = v.Add(r, x)
		case 3:
			d = v.Remove(x)
		default:
			d = v.Clear()
		}
	case ORMap:
		if rng.IntN(4) == 0 {
			d = v.Remove("i")
			break
		}
		inner, _ := Get[GCounter](v, "i")
		inc, err := inner.Inc(r, uint64(rng.IntN(9)+1))
		if err != nil {
			t.Fatal(err)
		}
		d, err = v.Update(r, "i", inc)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestORMap_concurrentUpdateAndRemove pins down what a map does when one
// region removes a field while another updates it: see ORMap's
// documentation.
func TestORMap_concurrentUpdateAndRemove(t *testing.T) {
	update := func(m ORMap, r xregion.Region, name string, delta State) ORMap {
		t.Helper()
		d, err := m.Update(r, name, delta)
		require.NoError(t, err)
		return d
	}
	setOf := func(m ORMap, name string) []string {
		s, _ := Get[ORSet](m, name)
		return s.Elements()
	}
	// Both regions start from a map whose field "tags" holds {x, y}.
	var m ORMap
	tags, _ := Get[ORSet](m, "tags")
	add, err := tags.AddAll(ra, "x", "y")
	require.NoError(t, err)
	m = m.Merge(update(m, ra, "tags", add))
	require.Equal(t, []string{"x", "y"}, setOf(m, "tags"))

	t.Run("UpdateWinsAndKeepsWhatItSaw", func(t *testing.T) {
		removed := m.Merge(m.Remove("tags"))
		_, ok := removed.Value("tags", TypeORSet)
		require.False(t, ok)
		tags, _ := Get[ORSet](m, "tags")
		z, err := tags.Add(rb, "z")
		require.NoError(t, err)
		updated := m.Merge(update(m, rb, "tags", z))
		for _, merged := range []ORMap{removed.Merge(updated), updated.Merge(removed)} {
			require.Equal(t, []string{"x", "y", "z"}, setOf(merged, "tags"),
				"the field survives with what the updating region held: x and y come back")
		}
	})
	t.Run("ClearInsteadOfRemove", func(t *testing.T) {
		tags, _ := Get[ORSet](m, "tags")
		cleared := m.Merge(update(m, ra, "tags", tags.Clear()))
		require.Empty(t, setOf(cleared, "tags"))
		z, err := tags.Add(rb, "z")
		require.NoError(t, err)
		updated := m.Merge(update(m, rb, "tags", z))
		require.Equal(t, []string{"z"}, setOf(cleared.Merge(updated), "tags"),
			"a clear removes exactly what it observed; the concurrent add survives")
		require.Equal(t, []string{"z"}, setOf(updated.Merge(cleared), "tags"))
	})
	t.Run("RemoveThenAddStartsEmpty", func(t *testing.T) {
		removed := m.Merge(m.Remove("tags"))
		tags, _ := Get[ORSet](removed, "tags")
		require.Zero(t, tags.Len())
		w, err := tags.Add(ra, "w")
		require.NoError(t, err)
		again := removed.Merge(update(removed, ra, "tags", w))
		require.Equal(t, []string{"w"}, setOf(again, "tags"))
		require.Equal(t, []string{"w"}, setOf(again.Merge(m), "tags"), "the old state merged late does not bring x and y back")
	})
	t.Run("CounterMasksAfterConcurrentRemove", func(t *testing.T) {
		// The hazard the documentation warns of: counters merge by the
		// larger total per region, across a remove.
		var c ORMap
		five, _ := GCounter{}.Inc(ra, 5)
		c = c.Merge(update(c, ra, "n", five))
		removed := c.Merge(c.Remove("n"))
		one, _ := GCounter{}.Inc(ra, 1)
		recreated := removed.Merge(update(removed, ra, "n", one)) // ra starts over: {ra: 1}
		cur, _ := Get[GCounter](c, "n")
		inc, _ := cur.Inc(rb, 1)
		concurrent := c.Merge(update(c, rb, "n", inc)) // rb still sees {ra: 5}: {ra: 5, rb: 1}
		got, _ := Get[GCounter](recreated.Merge(concurrent), "n")
		require.Equal(t, uint64(6), got.Value(), "ra's new 1 is hidden under its old 5")
		got, _ = Get[GCounter](recreated.Merge(recreated), "n")
		require.Equal(t, uint64(1), got.Value(), "without a concurrent update the counter starts over")
	})
	t.Run("TypesAreSeparateFields", func(t *testing.T) {
		var a, b ORMap
		n, _ := GCounter{}.Inc(ra, 1)
		s, _ := ORSet{}.Add(rb, "v")
		merged := a.Merge(update(a, ra, "f", n)).Merge(b.Merge(update(b, rb, "f", s)))
		require.Equal(t, []Key{{"f", TypeGCounter}, {"f", TypeORSet}}, merged.Keys())
		gone := merged.Merge(merged.Remove("f"))
		require.Zero(t, gone.Len(), "Remove takes the name under every type")
	})
}

func TestORMap_Update(t *testing.T) {
	var m ORMap
	_, err := m.Update(ra, "b", BoundedCounter{})
	require.ErrorIs(t, err, xregion.ErrInvalid)
	require.Contains(t, err.Error(), "bounded counter")
	_, err = m.Update(ra, "n", nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = m.Update(ra, strings.Repeat("n", MaxElementLen+1), GCounter{})
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = m.Update("", "n", GCounter{})
	require.ErrorIs(t, err, xregion.ErrInvalid)

	t.Run("PNCounterLimits", func(t *testing.T) {
		money, _ := NewPNCounter(10, 2)
		add, err := money.Add(ra, dec("1.25"))
		require.NoError(t, err)
		d, err := m.Update(ra, "balance", add)
		require.NoError(t, err)
		withMoney := m.Merge(d)
		other, _ := NewPNCounter(10, 4)
		_, err = withMoney.Update(ra, "balance", other)
		require.ErrorIs(t, err, ErrTypeMismatch)
		got, ok := Get[PNCounter](withMoney, "balance")
		require.True(t, ok)
		require.Equal(t, "1.25", got.Value().String())
	})
	t.Run("Depth", func(t *testing.T) {
		inner := ORMap{}
		for range MaxDepth - 1 {
			d, err := ORMap{}.Update(ra, "m", inner)
			require.NoError(t, err)
			inner = d
		}
		require.Equal(t, MaxDepth, depth(inner))
		_, err := Decode(encoded(inner))
		require.NoError(t, err)
		_, err = ORMap{}.Update(ra, "m", inner)
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
	t.Run("DeltaCarriesTheFieldValue", func(t *testing.T) {
		big := ORSet{}
		d, err := big.AddAll(ra, "a", "b", "c")
		require.NoError(t, err)
		md, err := m.Update(ra, "s", d)
		require.NoError(t, err)
		m2 := m.Merge(md)
		cur, _ := Get[ORSet](m2, "s")
		one, err := cur.Add(rb, "d")
		require.NoError(t, err)
		md2, err := m2.Update(rb, "s", one)
		require.NoError(t, err)
		v, _ := Get[ORSet](md2, "s")
		require.Equal(t, []string{"a", "b", "c", "d"}, v.Elements())
	})
}
