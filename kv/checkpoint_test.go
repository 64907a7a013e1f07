package kv_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
	"github.com/xregion/xregion/replicate"
)

func newCheckpoints(t testing.TB, tb *kv.Table) *kv.Checkpoints {
	t.Helper()
	c, err := kv.NewCheckpoints(tb, "jobs")
	require.NoError(t, err)
	return c
}

func load(t testing.TB, c *kv.Checkpoints, job string) (int64, bool) {
	t.Helper()
	cp, ok, err := c.Load(t.Context(), job)
	require.NoError(t, err)
	if ok {
		require.Equal(t, job, cp.Job)
	}
	return cp.Position, ok
}

func TestCheckpoints_SaveLoad(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()
		c := newCheckpoints(t, a.kv)

		_, ok := load(t, c, "export")
		require.False(t, ok, "never saved")
		require.NoError(t, c.Save(ctx, "export", 10))
		pos, ok := load(t, c, "export")
		require.True(t, ok)
		require.Equal(t, int64(10), pos)

		before := raw(t, a, "jobs", "export")
		require.NoError(t, c.Save(ctx, "export", 10))
		require.Equal(t, before, raw(t, a, "jobs", "export"), "saving the same position writes nothing")

		err := c.Save(ctx, "export", 9)
		var be *kv.BehindError
		require.ErrorAs(t, err, &be)
		require.Equal(t, kv.BehindError{Job: "export", Saved: 10, Position: 9}, *be)
		require.ErrorIs(t, err, kv.ErrBehind)

		require.NoError(t, c.Save(ctx, "export", 20))
		require.NoError(t, c.Reset(ctx, "export"))
		_, ok = load(t, c, "export")
		require.False(t, ok, "reset")
		require.NoError(t, c.Save(ctx, "export", 0), "after a reset any position goes")

		require.ErrorIs(t, c.Save(ctx, "export", -1), xregion.ErrInvalid)
		require.ErrorIs(t, c.Save(ctx, "", 1), xregion.ErrInvalid)
		_, err = kv.NewCheckpoints(a.kv, "")
		require.ErrorIs(t, err, xregion.ErrInvalid)

		mustPut(t, a.kv, "jobs", "not-a-checkpoint", "text")
		_, _, err = c.Load(ctx, "not-a-checkpoint")
		require.ErrorIs(t, err, xregion.ErrCorrupt)
		require.ErrorIs(t, c.Save(ctx, "not-a-checkpoint", 1), xregion.ErrCorrupt)
	})
}

// TestCheckpoints_NeverBack: saves racing in one region, from goroutines
// and (on PostgreSQL) two processes, each of a position it just reached:
// the saved position never moves back, and ends at the highest.
func TestCheckpoints_NeverBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		cs := []*kv.Checkpoints{newCheckpoints(t, a.kv), newCheckpoints(t, otherProcess(t, a))}
		var (
			next atomic.Int64
			wg   sync.WaitGroup
			stop = make(chan struct{})
		)
		wg.Go(func() { // an observer: positions only go up
			var last int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				pos, _ := load(t, cs[0], "job")
				if pos < last {
					t.Errorf("checkpoint moved back from %d to %d", last, pos)
				}
				last = pos
			}
		})
		var savers sync.WaitGroup
		for n := range 6 {
			savers.Go(func() {
				for range 15 {
					err := cs[n%2].Save(t.Context(), "job", next.Add(1))
					if err != nil && !errors.Is(err, kv.ErrBehind) {
						t.Error(err)
					}
				}
			})
		}
		savers.Wait()
		close(stop)
		wg.Wait()
		pos, _ := load(t, cs[0], "job")
		require.Equal(t, next.Load(), pos)
	})
}

// TestCheckpoints_Failover: a job saves in a through replicate.Sync; a is
// lost; b takes over and resumes from the last position a saved. When a
// returns with a save b never received (made while a was cut off), the
// regions settle on b's later one, and a's goes to the ledger.
func TestCheckpoints_Failover(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		rs := open(t, "a", "b")
		a, b := rs[0], rs[1]
		ctx := t.Context()
		rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithTier(replicate.Tier1))
		require.NoError(t, err)
		t.Cleanup(func() {
			b.dark(false)
			rep.Close()
		})
		ca := newCheckpoints(t, newTable(t, a, kv.WithWriter(rep)))
		for pos := int64(10); pos <= 40; pos += 10 {
			advance(time.Second, a, b)
			require.NoError(t, ca.Save(ctx, "export", pos))
		}

		b.dark(true)
		advance(time.Second, a, b)
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err = ca.Save(short, "export", 45)
		var se *replicate.SyncError
		require.ErrorAs(t, err, &se, "not acknowledged: b is out of reach")
		require.NoError(t, se.Local, "but committed in a")

		_, err = b.store.(xregion.Stager).ApplyStaged(ctx)
		require.NoError(t, err)
		cb := newCheckpoints(t, b.kv)
		pos, ok := load(t, cb, "export")
		require.True(t, ok)
		require.Equal(t, int64(40), pos, "b resumes from the last acknowledged save")

		advance(time.Minute, a, b)
		require.NoError(t, cb.Save(ctx, "export", 60))
		b.dark(false)
		require.NoError(t, rep.Close())
		ship(t, a, b)
		ship(t, b, a)
		for _, r := range rs {
			pos, _ := load(t, newCheckpoints(t, r.kv), "export")
			require.Equal(t, int64(60), pos, r.name)
		}
		lost := ledger(t, a)
		require.Len(t, lost, 1, "a's save that b never received, reported")
		require.Equal(t, "jobs/export", lost[0].Lost.Key)
		require.ErrorIs(t, newCheckpoints(t, a.kv).Save(ctx, "export", 50), kv.ErrBehind, "a cannot move it back")
	})
}
