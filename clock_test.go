package xregion_test

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

var epoch = time.Unix(1_700_000_000, 0)

func ts(wall time.Duration, logical int32) xregion.Timestamp {
	return xregion.Timestamp{WallTime: epoch.Add(wall).UnixNano(), Logical: logical}
}

// TestClock_Events drives one clock through a table of events, as
// CockroachDB's hlc_test.go does: each row moves the wall clock or feeds a
// remote timestamp, then checks what the clock says.
func TestClock_Events(t *testing.T) {
	type event int
	const (
		now event = iota
		update
	)
	wall := xregion.NewManualClock(epoch)
	clock, err := xregion.NewClock(wall, xregion.WithMaxOffset(100*time.Millisecond))
	require.NoError(t, err)

	for i, step := range []struct {
		name    string
		setWall time.Duration // wall clock reading before the event
		ev      event
		remote  xregion.Timestamp
		want    xregion.Timestamp
		wantErr bool
	}{
		{name: "first reading takes the wall clock", setWall: 1, ev: now, want: ts(1, 0)},
		{name: "frozen wall clock counts logically", setWall: 1, ev: now, want: ts(1, 1)},
		{name: "and again", setWall: 1, ev: now, want: ts(1, 2)},
		{name: "wall clock moves on", setWall: 5, ev: now, want: ts(5, 0)},
		{name: "wall clock jumps backwards: never go back", setWall: 2, ev: now, want: ts(5, 1)},
		{name: "remote in the past changes nothing", setWall: 2, ev: update, remote: ts(3, 7)},
		{name: "next reading after it", setWall: 2, ev: now, want: ts(5, 2)},
		{name: "remote ahead within offset", setWall: 10, ev: update, remote: ts(50*time.Millisecond, 3)},
		{name: "next reading is after the remote", setWall: 10, ev: now, want: ts(50*time.Millisecond, 4)},
		{name: "remote exactly at max offset is accepted", setWall: 0, ev: update, remote: ts(100*time.Millisecond, 0)},
		{name: "next reading after it", setWall: 0, ev: now, want: ts(100*time.Millisecond, 1)},
		{name: "remote beyond max offset is refused", setWall: 0, ev: update, remote: ts(100*time.Millisecond+1, 0), wantErr: true},
		{name: "refused remote left the clock alone", setWall: 0, ev: now, want: ts(100*time.Millisecond, 2)},
		{name: "once the wall clock catches up it is accepted", setWall: 1, ev: update, remote: ts(100*time.Millisecond+1, 0)},
		{name: "wall clock passes everything", setWall: time.Second, ev: now, want: ts(time.Second, 0)},
	} {
		wall.Set(epoch.Add(step.setWall))
		switch step.ev {
		case now:
			require.Equal(t, step.want, clock.Now(), "step %d: %s", i, step.name)
		case update:
			err := clock.Update(step.remote)
			if !step.wantErr {
				require.NoError(t, err, "step %d: %s", i, step.name)
				continue
			}
			require.ErrorIs(t, err, xregion.ErrClockOffset, "step %d: %s", i, step.name)
			var off *xregion.ClockOffsetError
			require.True(t, errors.As(err, &off))
			require.Equal(t, step.remote, off.Remote)
			require.Equal(t, 100*time.Millisecond+1, off.Ahead())
			require.Contains(t, err.Error(), "maximum offset 100ms")
		}
	}
}

func TestClock_LogicalOverflowMovesToNextNanosecond(t *testing.T) {
	wall := xregion.NewManualClock(epoch)
	clock, err := xregion.NewClock(wall)
	require.NoError(t, err)
	require.NoError(t, clock.Update(xregion.Timestamp{WallTime: epoch.UnixNano(), Logical: math.MaxInt32}))
	require.Equal(t, xregion.Timestamp{WallTime: epoch.UnixNano() + 1}, clock.Now())
}

func TestClock_ConcurrentReadingsAreUnique(t *testing.T) {
	clock, err := xregion.NewClock(xregion.NewManualClock(epoch)) // frozen: all logical
	require.NoError(t, err)
	const goroutines, each = 8, 500
	seen := make(chan xregion.Timestamp, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				seen <- clock.Now()
			}
		})
	}
	wg.Wait()
	close(seen)
	unique := map[xregion.Timestamp]bool{}
	for ts := range seen {
		require.False(t, unique[ts], "timestamp %s handed out twice", ts)
		unique[ts] = true
	}
}

func TestNewClock_Invalid(t *testing.T) {
	_, err := xregion.NewClock(nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = xregion.NewClock(xregion.SystemClock{}, xregion.WithMaxOffset(0))
	require.ErrorIs(t, err, xregion.ErrInvalid)
	require.Contains(t, err.Error(), "maximum offset")
}

func TestClock_Stamp(t *testing.T) {
	wall := xregion.NewManualClock(time.Unix(1_000, 0))
	c, err := xregion.NewClock(wall)
	require.NoError(t, err)

	blind, err := c.Stamp("a", xregion.Version{})
	require.NoError(t, err)
	require.Equal(t, xregion.Region("a"), blind.Region)
	require.Equal(t, wall.Now().UnixNano(), blind.Time.WallTime)

	// The writer read a version from a region whose clock is ahead, within
	// the maximum offset: the write is stamped after it.
	read := xregion.Version{Time: xregion.Timestamp{WallTime: wall.Now().Add(100 * time.Millisecond).UnixNano()}, Region: "b"}
	v, err := c.Stamp("a", read)
	require.NoError(t, err)
	require.True(t, read.Less(v), "stamped after what it read")

	// Beyond it: refused, and the clock is not dragged along.
	far := xregion.Version{Time: xregion.Timestamp{WallTime: wall.Now().Add(time.Hour).UnixNano()}, Region: "b"}
	_, err = c.Stamp("a", far)
	var oe *xregion.ClockOffsetError
	require.ErrorAs(t, err, &oe)
	require.True(t, c.Now().Less(far.Time))
}
