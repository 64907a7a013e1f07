package wait_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/internal/wait"
)

func TestSleep_WaitsOrEndsWithItsContext(t *testing.T) {
	start := time.Now()
	require.NoError(t, wait.Sleep(t.Context(), 5*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 5*time.Millisecond)
	require.NoError(t, wait.Sleep(t.Context(), 0))

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(5*time.Millisecond, cancel)
	start = time.Now()
	require.ErrorIs(t, wait.Sleep(ctx, time.Hour), context.Canceled)
	require.Less(t, time.Since(start), 10*time.Second, "it ended with its context")
	require.ErrorIs(t, wait.Sleep(ctx, 0), context.Canceled, "an ended context ends even a zero wait")
}
