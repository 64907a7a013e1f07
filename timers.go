package xregion

import (
	"slices"
	"sync"
	"time"
)

// Timers is a WallClock that can also wait: the clock a component's
// scheduled work runs on (polls, heartbeats, backoff, degrading a silent
// peer, the times it reports). It is injected, as the HLC's WallClock is, so
// that a test moves time by hand instead of sleeping for a timer to fire:
// SystemClock is the real one, ManualClock the test's. Deadlines of network
// calls are not scheduled work; they stay on the real clock.
type Timers interface {
	WallClock
	// NewTimer returns a Timer that fires once d has passed on this clock,
	// at once if d is not positive.
	NewTimer(d time.Duration) Timer
}

// Timer fires once: C receives the clock's time then. Stop keeps it from
// firing, and reports whether it did (false: it had fired, or was stopped).
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

var (
	_ Timers = SystemClock{}
	_ Timers = (*ManualClock)(nil)
)

// NewTimer returns a timer of the operating system's clock.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// ManualClock is a Timers clock that moves only when told to: its timers
// fire when Advance or Set moves it past their time, in the order of their
// times. It is safe for concurrent use.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer // pending, in no particular order
}

// NewManualClock returns a ManualClock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's current reading.
func (m *ManualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Set moves the clock to t, backwards if t is earlier, and fires the timers
// due by then.
func (m *ManualClock) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t
	m.fire()
}

// Advance moves the clock by d (backwards if d is negative), and fires the
// timers due by then.
func (m *ManualClock) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	m.fire()
}

// Pending is how many timers wait to fire: a test advances the clock once
// the code under test is waiting on it.
func (m *ManualClock) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

// NewTimer returns a timer that fires when the clock reaches now plus d.
func (m *ManualClock) NewTimer(d time.Duration) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTimer{m: m, at: m.now.Add(d), c: make(chan time.Time, 1)}
	m.timers = append(m.timers, t)
	m.fire()
	return t
}

// fire sends the clock's time to every timer due, the earliest first.
func (m *ManualClock) fire() {
	slices.SortFunc(m.timers, func(a, b *manualTimer) int { return a.at.Compare(b.at) })
	n := 0
	for _, t := range m.timers {
		if t.at.After(m.now) {
			break
		}
		t.c <- m.now // buffered, and each timer fires once
		n++
	}
	m.timers = m.timers[n:]
}

type manualTimer struct {
	m  *ManualClock
	at time.Time
	c  chan time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	i := slices.Index(t.m.timers, t)
	if i < 0 {
		return false
	}
	t.m.timers = slices.Delete(t.m.timers, i, i+1)
	return true
}
