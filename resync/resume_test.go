package resync_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/testseed"
	"github.com/xregion/xregion/resync"
)

// TestRun_Resumable cuts resync off at random points, many times, by
// cancelling its context at a random call or resetting every connection of
// b's proxy at a random moment, and then runs it to the end. The end state equals that of an
// uninterrupted run on a twin pair of regions that diverged the same way,
// and no record was moved twice: each region's changelog holds exactly the
// changes the uninterrupted run made.
func TestRun_Resumable(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	const keys = 600

	twin, twinB, _ := pgPair(t)
	a, b, bNode := pgPair(t)
	for _, p := range [][2]*region{{twin, twinB}, {a, b}} {
		bulkDiverge(t, p[0], p[1], keys)
	}

	opts := []resync.Option{resync.WithWallClock(after), resync.WithBatchSize(25), resync.WithFanout(16)}
	counted := &cutter{Store: twinB.store}
	want, err := resync.Run(t.Context(), twin.store, counted, tablesOf(twin, twinB), opts...)
	require.NoError(t, err)
	require.NotZero(t, want.Applied.ToA)
	require.NotZero(t, want.Applied.ToB)
	calls := counted.calls.Load() // what a whole run asks of b

	// Runs cut off at random: by cancelling the context at a random call
	// to b (the first run surely, since it has the whole work to do), or by
	// resetting b's connections at a random moment of real time.
	bNode.Proxy.SetLatency(time.Millisecond)
	cut := 0
	for attempt := range 12 {
		ctx, cancel := context.WithCancel(t.Context())
		bs := &cutter{Store: b.store}
		var reset *time.Timer
		if attempt%2 == 0 {
			bs.at, bs.cut = 1+rng.Int64N(calls), cancel
		} else {
			reset = time.AfterFunc(time.Duration(rng.Int64N(int64(20*time.Millisecond))), bNode.Proxy.Reset)
		}
		_, err := resync.Run(ctx, a.store, bs, tablesOf(a, b), opts...)
		if reset != nil {
			reset.Stop()
		}
		cancel()
		if err != nil {
			cut++
		}
	}
	bNode.Proxy.SetLatency(0)
	t.Logf("%d of 12 runs cut off", cut)
	require.NotZero(t, cut)
	// Connections the resets killed may still sit in b's pool: the first
	// query on one fails, as a run cut off by the link would.
	for range 3 {
		if _, err = resync.Run(t.Context(), a.store, b.store, tablesOf(a, b), opts...); err == nil {
			break
		}
	}
	require.NoError(t, err, "the runs after the cuts")
	// Check b on its own database directly: connections the resets killed
	// may still sit in the pool behind its proxy.
	bDirect := newRegion(t, bNode.Local)

	for _, table := range []string{lwwTable, crdtTable} {
		for i := range keys {
			k := fmt.Sprintf("k%04d", i)
			for _, p := range [][2]*region{{a, twin}, {bDirect, twinB}} {
				got, okGot := p[0].get(t, table, k)
				exp, okExp := p[1].get(t, table, k)
				require.Equal(t, okExp, okGot, "%s %s in %s", table, k, p[0].name)
				require.True(t, exp.Equal(got), "%s %s in %s: %v, uninterrupted %v", table, k, p[0].name, got, exp)
			}
		}
	}
	for _, p := range [][2]*region{{a, twin}, {bDirect, twinB}} {
		require.Equal(t, changelog(t, p[1]), changelog(t, p[0]), "%s's changelog: something was applied twice, or not at all", p[0].name)
		require.Equal(t, ledger(t, p[1]), ledger(t, p[0]), "%s's ledger", p[0].name)
	}
}

// cutter is a region's store that counts the calls made to it and, at the
// at-th, calls cut before passing it on.
type cutter struct {
	xregion.Store
	calls atomic.Int64
	at    int64
	cut   func()
}

func (c *cutter) count() {
	if c.calls.Add(1) == c.at {
		c.cut()
	}
}

func (c *cutter) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	c.count()
	return c.Store.Apply(ctx, b)
}

func (c *cutter) Digests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.RangeDigest, error) {
	c.count()
	return c.Store.(xregion.Digester).Digests(ctx, table, ranges)
}

func (c *cutter) KeyDigests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.KeyDigest, error) {
	c.count()
	return c.Store.(xregion.Digester).KeyDigests(ctx, table, ranges)
}

func (c *cutter) Records(ctx context.Context, table string, keys []string) ([]xregion.Record, error) {
	c.count()
	return c.Store.(xregion.Digester).Records(ctx, table, keys)
}

// bulkDiverge writes keys records to a and ships them to b, then has each
// region change a third of them alone and both change another third.
func bulkDiverge(t *testing.T, a, b *region, keys int) {
	t.Helper()
	for i := range keys {
		a.put(t, fmt.Sprintf("k%04d", i), "v0")
		if i%10 == 0 {
			a.inc(t, fmt.Sprintf("k%04d", i), 1)
		}
	}
	ship(t, a, b)
	b.wall.Advance(time.Millisecond)
	for i := range keys {
		k := fmt.Sprintf("k%04d", i)
		switch i % 4 {
		case 0:
			a.put(t, k, "a")
		case 1:
			b.put(t, k, "b")
		case 2:
			a.put(t, k, "a")
			b.put(t, k, "b")
		}
		if i%10 == 0 {
			a.inc(t, k, 2)
			b.inc(t, k, 3)
		}
	}
}

// changelog returns the region's changes, without their positions and
// times, which differ between databases, sorted: a resumed run may apply
// in another order what the uninterrupted one applied. It waits until it
// reads every committed change: an open transaction elsewhere on the
// server can hide the last ones from Store.Changes for a moment.
func changelog(t *testing.T, r *region) []xregion.Write {
	t.Helper()
	var out []xregion.Write
	require.Eventually(t, func() bool {
		out = nil
		var committed int64
		for _, origin := range []xregion.Region{"a", "b"} {
			bl, err := r.store.Backlog(t.Context(), xregion.Position{}, origin)
			require.NoError(t, err)
			committed += bl.Changes
		}
		var after xregion.Position
		for {
			cs, err := r.store.Changes(t.Context(), xregion.ChangeQuery{After: after, Limit: xregion.MaxChangeLimit})
			require.NoError(t, err)
			if len(cs) == 0 {
				break
			}
			for _, c := range cs {
				rec := c.Record
				if len(rec.Value) == 0 {
					rec.Value = nil
				}
				out = append(out, xregion.Write{Table: c.Table, Record: rec})
			}
			after = cs[len(cs)-1].Pos
		}
		return int64(len(out)) == committed
	}, 30*time.Second, 10*time.Millisecond, "%s's changelog never became readable", r.name)
	slices.SortFunc(out, func(x, y xregion.Write) int {
		return cmp.Or(cmp.Compare(x.Table, y.Table), cmp.Compare(x.Record.Key, y.Record.Key), x.Record.Version.Compare(y.Record.Version))
	})
	return out
}

// ledger returns the region's lost updates, without IDs and times.
func ledger(t *testing.T, r *region) []xregion.LostUpdate {
	t.Helper()
	ls, err := r.store.LostUpdates(t.Context(), 0, xregion.MaxChangeLimit)
	require.NoError(t, err)
	for i := range ls {
		ls[i].ID, ls[i].At = 0, time.Time{}
		if len(ls[i].Lost.Value) == 0 {
			ls[i].Lost.Value = nil
		}
	}
	slices.SortFunc(ls, func(x, y xregion.LostUpdate) int {
		return cmp.Or(cmp.Compare(x.Table, y.Table), cmp.Compare(x.Lost.Key, y.Lost.Key), x.Lost.Version.Compare(y.Lost.Version))
	})
	return ls
}
