//go:build !linux

package regiontest

import (
	"context"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// waiter sleeps until a due time on Go's timers, which may fire up to a
// millisecond late when the process is idle; on Linux a timerfd does better.
type waiter struct{}

func newWaiter() *waiter { return &waiter{} }

// until waits until due; it reports false if ctx ended first.
func (w *waiter) until(ctx context.Context, due time.Time) bool {
	return wait.Sleep(ctx, xregion.SystemClock{}, time.Until(due)) == nil
}

func (w *waiter) close() {}
