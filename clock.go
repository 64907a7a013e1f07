package xregion

import (
	"sync"
	"time"
)

// DefaultMaxOffset is the maximum clock offset between regions that a Clock
// tolerates unless told otherwise (as in CockroachDB).
const DefaultMaxOffset = 500 * time.Millisecond

// WallClock is the physical clock a Clock reads. It is injected so tests
// control time; SystemClock is the real one.
type WallClock interface {
	Now() time.Time
}

// SystemClock reads the operating system's clock. It is safe for
// concurrent use.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ClockOption configures a Clock.
type ClockOption interface{ apply(*Clock) }

type clockOption func(*Clock)

func (f clockOption) apply(c *Clock) { f(c) }

// WithMaxOffset sets the largest amount a remote timestamp may be ahead of
// the local wall clock before Update refuses it. Default DefaultMaxOffset.
func WithMaxOffset(d time.Duration) ClockOption {
	return clockOption(func(c *Clock) { c.maxOffset = d })
}

// Clock is a hybrid logical clock (Kulkarni et al., 2014). Now never returns
// the same Timestamp twice and never goes backwards, whatever the wall clock
// does; Update folds in timestamps observed from other regions so that a
// write made after seeing a remote write is stamped after it. A Clock is safe
// for concurrent use.
type Clock struct {
	wall      WallClock
	maxOffset time.Duration
	mu        struct {
		sync.Mutex
		last Timestamp
	}
}

// NewClock returns a Clock that reads wall.
func NewClock(wall WallClock, opts ...ClockOption) (*Clock, error) {
	c := &Clock{wall: wall, maxOffset: DefaultMaxOffset}
	for _, o := range opts {
		o.apply(c)
	}
	if wall == nil {
		return nil, invalid("clock", "nil WallClock; pass xregion.SystemClock{} for the real clock")
	}
	if c.maxOffset <= 0 {
		return nil, invalid("clock", "maximum offset %s; want a positive duration such as %s", c.maxOffset, DefaultMaxOffset)
	}
	return c, nil
}

// MaxOffset returns the configured maximum offset.
func (c *Clock) MaxOffset() time.Duration { return c.maxOffset }

// Now returns a Timestamp later than any this clock has returned or been
// updated with. If the wall clock has not moved past the last timestamp (it
// stood still or jumped backwards), the logical counter advances instead.
// At the last Timestamp there is (see Timestamp.Next) Now keeps returning
// it: readings stop being unique rather than go back.
func (c *Clock) Now() Timestamp {
	physical := c.wall.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if physical > c.mu.last.WallTime {
		c.mu.last = Timestamp{WallTime: physical}
	} else {
		c.mu.last = c.mu.last.Next()
	}
	return c.mu.last
}

// Stamp returns the Version of a write made now in region, after base, the
// version its writer read (zero for a blind write): base is folded into the
// clock first (Update), so that the write is stamped after what it read and
// supersedes it. It fails, with a *ClockOffsetError, when base is further
// ahead of the local wall clock than MaxOffset: a write cannot follow what
// it read then without dragging the clock into the future; retry once the
// wall clock has caught up.
func (c *Clock) Stamp(region Region, base Version) (Version, error) {
	if !base.IsZero() {
		if err := c.Update(base.Time); err != nil {
			return Version{}, err
		}
	}
	return Version{Time: c.Now(), Region: region}, nil
}

// Update folds a timestamp observed from another region into the clock, so
// that every later Now is after it. It refuses, leaving the clock unchanged,
// a timestamp more than MaxOffset ahead of the local wall clock: accepting it
// would drag this region's clock into the future, and under last-write-wins
// let that write beat every write made here until real time caught up. The
// error is a *ClockOffsetError.
func (c *Clock) Update(remote Timestamp) error {
	wall := c.wall.Now()
	if time.Duration(remote.WallTime-wall.UnixNano()) > c.maxOffset {
		return &ClockOffsetError{Remote: remote, LocalWall: wall, MaxOffset: c.maxOffset}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.last = c.mu.last.Forward(remote)
	return nil
}
