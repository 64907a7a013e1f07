package wait_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// Each wait lies between half its step and the step; the steps double from
// Min to Max, and Reset starts them over.
func TestBackoff(t *testing.T) {
	b := wait.Backoff{Min: 10 * time.Millisecond, Max: 70 * time.Millisecond, Clock: xregion.SystemClock{}}
	for _, step := range []time.Duration{10, 20, 40, 70, 70} {
		step *= time.Millisecond
		d := b.Next()
		require.GreaterOrEqual(t, d, step/2)
		require.LessOrEqual(t, d, step)
	}
	b.Reset()
	require.LessOrEqual(t, b.Next(), 10*time.Millisecond)
	require.Zero(t, (&wait.Backoff{}).Next(), "the zero Backoff waits nothing")

	clock := xregion.NewManualClock(time.Unix(0, 0))
	m := wait.Backoff{Min: time.Second, Max: time.Second, Clock: clock}
	done := make(chan error, 1)
	go func() { done <- m.Wait(t.Context()) }()
	require.Eventually(t, func() bool { return clock.Pending() == 1 }, 10*time.Second, time.Millisecond)
	clock.Advance(time.Second)
	require.NoError(t, <-done, "it waits on its clock")
}
