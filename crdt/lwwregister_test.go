package crdt

import (
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// t0 is when every test history starts.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(ms int64) xregion.Timestamp {
	return xregion.Timestamp{WallTime: t0.Add(time.Duration(ms) * time.Millisecond).UnixNano()}
}

// TestLWWRegister_reference: a region holds the write with the greatest
// version (then value) among those it knows, stamped by skewed HLC clocks.
func TestLWWRegister_reference(t *testing.T) {
	t.Parallel()
	historySeeds(t, 2000, func(t *testing.T, rng *rand.Rand) {
		var clocks [3]*xregion.Clock
		var walls [3]*xregion.ManualClock
		for i := range clocks {
			walls[i] = xregion.NewManualClock(t0.Add(time.Duration(rng.IntN(400)) * time.Millisecond))
			c, err := xregion.NewClock(walls[i])
			require.NoError(t, err)
			clocks[i] = c
		}
		s := newSim(t, rng, LWWRegister.Merge, LWWRegister{})
		values := [][]byte{nil, []byte("a"), []byte("b"), []byte("bb"), {0, 0xff}}
		s.run(100, func(r int) {
			for _, w := range walls {
				w.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
			s.mutate(r, func(reg LWWRegister) event {
				// Stamp after what the register holds, as a writer must.
				if err := clocks[r].Update(reg.Version().Time); err != nil {
					t.Fatal(err)
				}
				v := xregion.Version{Time: clocks[r].Now(), Region: regions[r]}
				value := values[rng.IntN(len(values))]
				d, err := reg.Set(v, value)
				if err != nil {
					t.Fatal(err)
				}
				return event{op: "set", elem: string(value), delta: d}
			})
		}, func(r int) {
			var best *event
			for k := s.know[r]; k != 0; k &= k - 1 {
				e := &s.events[bits.TrailingZeros64(k)]
				if best == nil || e.delta.(LWWRegister).version.Compare(best.delta.(LWWRegister).version) > 0 {
					best = e
				}
			}
			got, ok := s.state[r].Value()
			if best == nil {
				same(t, false, ok)
				return
			}
			same(t, true, ok)
			same(t, best.elem, string(got))
			same(t, best.delta.(LWWRegister).version, s.state[r].Version())
		})
		checkLaws(t, rng, s.pool, LWWRegister.Merge, 10)
	})
}

func TestLWWRegister_Set(t *testing.T) {
	v1 := xregion.Version{Time: ts(1), Region: rb}
	reg, err := LWWRegister{}.Set(v1, []byte("x"))
	require.NoError(t, err)
	_, ok := LWWRegister{}.Value()
	require.False(t, ok)

	t.Run("NotAfter", func(t *testing.T) {
		for _, v := range []xregion.Version{v1, {Time: ts(1), Region: ra}, {Time: ts(0), Region: rc}} {
			_, err := reg.Set(v, []byte("y"))
			require.ErrorIs(t, err, xregion.ErrInvalid, "%s is not after %s", v, v1)
		}
		_, err := reg.Set(xregion.Version{Time: ts(1), Region: rc}, []byte("y"))
		require.NoError(t, err, "equal time, later region: after")
	})
	t.Run("Invalid", func(t *testing.T) {
		_, err := reg.Set(xregion.Version{Region: rc}, nil)
		require.ErrorIs(t, err, xregion.ErrInvalid)
		_, err = reg.Set(xregion.Version{Time: ts(5), Region: "X"}, nil)
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
	t.Run("CopiesValue", func(t *testing.T) {
		buf := []byte("abc")
		r, err := LWWRegister{}.Set(v1, buf)
		require.NoError(t, err)
		buf[0] = 'X'
		got, _ := r.Value()
		require.Equal(t, "abc", string(got))
		got[1] = 'Y'
		again, _ := r.Value()
		require.Equal(t, "abc", string(again))
	})
	t.Run("TieOnVersionTakesLargerValue", func(t *testing.T) {
		// Only hostile or broken writers stamp one version twice; the
		// merge must still be a join.
		a, _ := LWWRegister{}.Set(v1, []byte("a"))
		b, _ := LWWRegister{}.Set(v1, []byte("b"))
		got, _ := a.Merge(b).Value()
		require.Equal(t, "b", string(got))
		got, _ = b.Merge(a).Value()
		require.Equal(t, "b", string(got))
	})
	t.Run("EmptyValue", func(t *testing.T) {
		r, err := LWWRegister{}.Set(v1, []byte{})
		require.NoError(t, err)
		got, ok := r.Value()
		require.True(t, ok, "an empty value is a value")
		require.Empty(t, got)
		require.Equal(t, enc(r), enc(mustDecode(t, encoded(r))))
	})
}

func mustDecode(t *testing.T, b []byte) State {
	t.Helper()
	s, err := Decode(b)
	require.NoError(t, err)
	return s
}
