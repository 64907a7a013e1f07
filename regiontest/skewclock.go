package regiontest

import (
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
)

// SkewClock is an xregion.WallClock that reads the system clock plus an
// adjustable offset, to skew one region's clock against the others' within
// or beyond the maximum offset an xregion.Clock tolerates. Unlike
// xregion.ManualClock it keeps moving, so code that waits on real time (lease
// renewals, timeouts) still runs. The zero value reads the system clock. A
// SkewClock is safe for concurrent use.
type SkewClock struct {
	offset atomic.Int64 // nanoseconds
}

var _ xregion.WallClock = (*SkewClock)(nil)

// Now returns the system time plus the offset.
func (c *SkewClock) Now() time.Time { return time.Now().Add(c.Offset()) }

// SetOffset sets how far the clock reads ahead of the system clock (behind,
// if d is negative). It replaces the previous offset; it does not add to it.
func (c *SkewClock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }

// Offset returns the offset set by SetOffset.
func (c *SkewClock) Offset() time.Duration { return time.Duration(c.offset.Load()) }
