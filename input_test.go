package xregion_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// maxTS is the last Timestamp there is.
var maxTS = xregion.Timestamp{WallTime: math.MaxInt64, Logical: math.MaxInt32}

func TestTimestamp_NextAtMaximum(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want xregion.Timestamp
	}{
		{"logical counts up", xregion.Timestamp{WallTime: 5, Logical: 1}, xregion.Timestamp{WallTime: 5, Logical: 2}},
		{"logical exhausted: next nanosecond", xregion.Timestamp{WallTime: 5, Logical: math.MaxInt32}, xregion.Timestamp{WallTime: 6}},
		{"last nanosecond counts up", xregion.Timestamp{WallTime: math.MaxInt64, Logical: 7}, xregion.Timestamp{WallTime: math.MaxInt64, Logical: 8}},
		{"the maximum has no successor: Next keeps it", maxTS, maxTS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.Next()
			require.Equal(t, tc.want, got)
			require.False(t, got.Less(tc.in), "Next went back from %s to %s", tc.in, got)
			require.GreaterOrEqual(t, got.WallTime, int64(0), "a Timestamp is never negative")
		})
	}
}

// TestClock_NowAtMaximum: a clock that has folded in the last Timestamp (a
// MaxOffset of centuries lets it) stays there rather than wrap into the
// past.
func TestClock_NowAtMaximum(t *testing.T) {
	clock, err := xregion.NewClock(xregion.NewManualClock(epoch), xregion.WithMaxOffset(time.Duration(math.MaxInt64)))
	require.NoError(t, err)
	require.NoError(t, clock.Update(maxTS))
	for range 3 {
		require.Equal(t, maxTS, clock.Now())
	}
}
