package wait

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/xregion/xregion"
)

// Backoff spaces the attempts of something that keeps failing: each wait
// doubles, from Min up to Max, and half of it is random ("equal jitter"),
// so that processes retrying the same peer do not move in step and none
// waits less than half its step. The zero Backoff waits nothing; a Backoff
// is used by one goroutine.
type Backoff struct {
	Min, Max time.Duration
	Clock    xregion.Timers // the clock it waits on
	step     time.Duration  // the next step; 0 before the first
}

// Next returns the next wait, and doubles the step after it.
func (b *Backoff) Next() time.Duration {
	if b.step == 0 {
		b.step = b.Min
	}
	d := b.step
	b.step = min(2*b.step, b.Max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Wait waits the next wait on Clock, or until ctx ends, as Sleep does.
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Clock, b.Next()) }

// Reset starts again from Min: the thing succeeded.
func (b *Backoff) Reset() { b.step = 0 }
