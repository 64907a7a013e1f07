package wait

import (
	"context"
	"time"

	"github.com/xregion/xregion"
)

// Sleep waits d on clock, or until ctx ends; it returns ctx.Err() if ctx
// ended first (or had ended already), nil otherwise.
func Sleep(ctx context.Context, clock xregion.Timers, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
