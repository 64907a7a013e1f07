package wait_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

func TestSleep_WaitsOrEndsWithItsContext(t *testing.T) {
	start := time.Now()
	require.NoError(t, wait.Sleep(t.Context(), xregion.SystemClock{}, 5*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 5*time.Millisecond)
	require.NoError(t, wait.Sleep(t.Context(), xregion.SystemClock{}, 0))

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(5*time.Millisecond, cancel)
	start = time.Now()
	require.ErrorIs(t, wait.Sleep(ctx, xregion.SystemClock{}, time.Hour), context.Canceled)
	require.Less(t, time.Since(start), 10*time.Second, "it ended with its context")
	require.ErrorIs(t, wait.Sleep(ctx, xregion.SystemClock{}, 0), context.Canceled, "an ended context ends even a zero wait")
}

// On a manual clock the wait ends when the clock is moved past it, and
// not before.
func TestSleep_ManualClock(t *testing.T) {
	clock := xregion.NewManualClock(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- wait.Sleep(t.Context(), clock, time.Minute) }()
	require.Eventually(t, func() bool { return clock.Pending() == 1 }, 10*time.Second, time.Millisecond)
	clock.Advance(59 * time.Second)
	select {
	case <-done:
		t.Fatal("woke before its time")
	default:
	}
	clock.Advance(time.Second)
	require.NoError(t, <-done)
	require.Zero(t, clock.Pending())
}
