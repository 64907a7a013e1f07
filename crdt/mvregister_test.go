package crdt

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMVRegister_reference: a region holds the values of the writes it
// knows that no write or clear it knows had observed.
func TestMVRegister_reference(t *testing.T) {
	t.Parallel()
	historySeeds(t, 2000, func(t *testing.T, rng *rand.Rand) {
		s := newSim(t, rng, MVRegister.Merge, MVRegister{})
		values := []string{"", "a", "b", "cc"}
		s.run(100, func(r int) {
			live := s.live(s.know[r], s.of("*", "set"), "")
			s.mutate(r, func(m MVRegister) event {
				if rng.IntN(6) == 0 {
					return event{op: "clear", obs: map[string]uint64{"": live}, delta: m.Clear()}
				}
				v := values[rng.IntN(len(values))]
				d, err := m.Set(regions[r], []byte(v))
				if err != nil {
					t.Fatal(err)
				}
				return event{op: "set", elem: v, obs: map[string]uint64{"": live}, delta: d}
			})
		}, func(r int) {
			var want [][]byte
			for k := s.live(s.know[r], s.of("*", "set"), ""); k != 0; k &= k - 1 {
				want = append(want, []byte(s.events[bits.TrailingZeros64(k)].elem))
			}
			want = sortedDistinct(want)
			got := s.state[r].Values()
			if len(got) != len(want) {
				t.Fatalf("region %d holds %q, want %q", r, got, want)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("region %d holds %q, want %q", r, got, want)
				}
			}
		})
		checkLaws(t, rng, s.pool, MVRegister.Merge, 10)
	})
}

func sortedDistinct(vs [][]byte) [][]byte {
	out := make([][]byte, 0, len(vs))
	for _, v := range vs {
		i := 0
		for i < len(out) && bytes.Compare(out[i], v) < 0 {
			i++
		}
		if i < len(out) && bytes.Equal(out[i], v) {
			continue
		}
		out = append(out[:i], append([][]byte{v}, out[i:]...)...)
	}
	return out
}

func TestMVRegister_concurrent(t *testing.T) {
	var m MVRegister
	d, err := m.Set(ra, []byte("12 Main St"))
	require.NoError(t, err)
	m = m.Merge(d)

	// Two regions edit the address concurrently: both edits are kept.
	da, err := m.Set(ra, []byte("12 Main Street"))
	require.NoError(t, err)
	db, err := m.Set(rb, []byte("14 Main St"))
	require.NoError(t, err)
	both := m.Merge(da).Merge(db)
	require.Equal(t, [][]byte{[]byte("12 Main Street"), []byte("14 Main St")}, both.Values())

	// A write that has seen both replaces both.
	d, err = both.Set(rc, []byte("14 Main Street"))
	require.NoError(t, err)
	settled := both.Merge(d)
	require.Equal(t, [][]byte{[]byte("14 Main Street")}, settled.Values())
	require.Equal(t, enc(settled), enc(settled.Merge(da).Merge(db)), "late deltas of replaced writes change nothing")

	// A clear removes what it saw, not a concurrent write.
	dc, err := settled.Set(ra, []byte("late"))
	require.NoError(t, err)
	cleared := settled.Merge(settled.Clear()).Merge(dc)
	require.Equal(t, [][]byte{[]byte("late")}, cleared.Values())
	require.Empty(t, settled.Merge(settled.Clear()).Values())
}
