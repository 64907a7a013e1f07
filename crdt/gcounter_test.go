package crdt

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// TestGCounter_reference: the value is the sum of the increments a region
// knows, whatever order deltas and states arrive in.
func TestGCounter_reference(t *testing.T) {
	t.Parallel()
	historySeeds(t, 2000, func(t *testing.T, rng *rand.Rand) {
		s := newSim(t, rng, GCounter.Merge, GCounter{})
		s.run(100, func(r int) {
			s.mutate(r, func(c GCounter) event {
				n := uint64(rng.IntN(100) + 1)
				d, err := c.Inc(regions[r], n)
				if err != nil {
					require.NoError(t, err)
				}
				return event{op: "inc", n: n, delta: d, implies: s.priorOf(r, "inc", "")}
			})
		}, func(r int) {
			var total uint64
			var per [3]uint64
			for k := s.know[r]; k != 0; k &= k - 1 {
				e := s.events[bits.TrailingZeros64(k)]
				total += e.n
				per[e.region] += e.n
			}
			same(t, total, s.state[r].Value())
			for i, reg := range regions {
				same(t, per[i], s.state[r].Of(reg))
			}
		})
		checkLaws(t, rng, s.pool, GCounter.Merge, 10)
	})
}

func TestGCounter_Inc(t *testing.T) {
	t.Run("DeltaHoldsOnlyTheRegion", func(t *testing.T) {
		c := mustInc(t, GCounter{}, ra, 5)
		c = c.Merge(mustInc(t, c, rb, 7))
		d, err := c.Inc(ra, 1)
		require.NoError(t, err)
		require.Equal(t, uint64(6), d.Value(), "a delta carries the region's running total, nothing else")
		require.Equal(t, uint64(13), c.Merge(d).Value())
	})
	t.Run("Zero", func(t *testing.T) {
		d, err := GCounter{}.Inc(ra, 0)
		require.NoError(t, err)
		require.Equal(t, enc(GCounter{}), enc(d))
	})
	t.Run("InvalidRegion", func(t *testing.T) {
		_, err := GCounter{}.Inc("Not A Region", 1)
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
	t.Run("Overflow", func(t *testing.T) {
		c := mustInc(t, GCounter{}, ra, math.MaxUint64-1)
		_, err := c.Inc(rb, 2)
		var oe *OverflowError
		require.ErrorAs(t, err, &oe)
		require.ErrorIs(t, err, ErrOverflow)
		require.Equal(t, "18446744073709551616", oe.Value)
		require.Equal(t, "18446744073709551615", oe.Limit)
		_, err = c.Inc(rb, 1)
		require.NoError(t, err)
	})
	t.Run("ConcurrentOverflowSaturates", func(t *testing.T) {
		a := mustInc(t, GCounter{}, ra, math.MaxUint64-1)
		b := mustInc(t, GCounter{}, rb, 5)
		require.Equal(t, uint64(math.MaxUint64), a.Merge(b).Value())
	})
	t.Run("TooManyRegions", func(t *testing.T) {
		var c GCounter
		for i := range MaxReplicas {
			c = c.Merge(mustInc(t, c, xregion.Region("r"+itoa(i)), 1))
		}
		_, err := c.Inc("one-too-many", 1)
		require.ErrorIs(t, err, xregion.ErrInvalid)
		_, err = c.Inc("r7", 1)
		require.NoError(t, err, "a region already named is fine")
		_, err = Decode(encoded(c))
		require.NoError(t, err)
	})
}

func mustInc(t *testing.T, c GCounter, r xregion.Region, n uint64) GCounter {
	t.Helper()
	d, err := c.Inc(r, n)
	require.NoError(t, err)
	return c.Merge(d)
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
