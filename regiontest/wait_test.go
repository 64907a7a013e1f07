package regiontest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWaiter_NeverEarlyAndStopsWithItsContext(t *testing.T) {
	w := newWaiter()
	defer w.close()
	for _, d := range []time.Duration{0, 300 * time.Microsecond, 5 * time.Millisecond} {
		start := time.Now()
		require.True(t, w.until(t.Context(), start.Add(d)))
		require.GreaterOrEqual(t, time.Since(start), d, "woke before its due time")
	}

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel)
	start := time.Now()
	require.False(t, w.until(ctx, start.Add(time.Hour)), "a wait whose context ended reports it")
	require.Less(t, time.Since(start), 10*time.Second, "the wait ended with its context, not at its due time")
}
