package regiontest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

func TestSkewClock(t *testing.T) {
	t.Parallel()
	var c regiontest.SkewClock
	require.Zero(t, c.Offset())
	require.WithinDuration(t, time.Now(), c.Now(), time.Second, "the zero value reads the system clock")

	c.SetOffset(time.Hour)
	require.Equal(t, time.Hour, c.Offset())
	require.WithinDuration(t, time.Now().Add(time.Hour), c.Now(), time.Second)

	c.SetOffset(-time.Minute)
	require.Equal(t, -time.Minute, c.Offset(), "SetOffset replaces the offset, it does not add to it")
	require.WithinDuration(t, time.Now().Add(-time.Minute), c.Now(), time.Second)

	before := c.Now()
	time.Sleep(2 * time.Millisecond)
	require.True(t, c.Now().After(before), "a skewed clock keeps moving")
}

func TestSkewClock_Concurrent(t *testing.T) {
	t.Parallel()
	var c regiontest.SkewClock
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				c.SetOffset(time.Duration(i*j) * time.Millisecond)
				_ = c.Now()
				_ = c.Offset()
			}
		})
	}
	wg.Wait()
}
