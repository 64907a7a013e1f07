package xregion_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func fired(tm xregion.Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

// A ManualClock's timers fire when the clock is moved past their time, in
// the order of their times, once; not before, and not once stopped.
func TestManualClock_Timers(t *testing.T) {
	start := time.Unix(1_000, 0)
	c := xregion.NewManualClock(start)
	late := c.NewTimer(2 * time.Second)
	early := c.NewTimer(time.Second)
	stopped := c.NewTimer(time.Second)
	require.Equal(t, 3, c.Pending())
	require.True(t, stopped.Stop())
	require.False(t, stopped.Stop(), "stopping twice")

	c.Advance(999 * time.Millisecond)
	_, ok := fired(early)
	require.False(t, ok, "not before its time")

	c.Advance(time.Millisecond)
	at, ok := fired(early)
	require.True(t, ok)
	require.Equal(t, start.Add(time.Second), at, "it receives the clock's time")
	_, ok = fired(stopped)
	require.False(t, ok, "a stopped timer never fires")
	require.Equal(t, 1, c.Pending())

	c.Set(start) // backwards: nothing fires
	_, ok = fired(late)
	require.False(t, ok)
	c.Advance(10 * time.Second)
	_, ok = fired(late)
	require.True(t, ok)
	require.False(t, late.Stop(), "it had fired")
	require.Zero(t, c.Pending())

	now := c.NewTimer(0)
	_, ok = fired(now)
	require.True(t, ok, "a timer for no time fires at once")
}

func TestSystemClock_Timer(t *testing.T) {
	tm := xregion.SystemClock{}.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("the system timer did not fire")
	}
}
