package replicate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/memstore"
)

// t0 is when the manual clocks of these tests start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// retRegion is a memstore region on a manual wall clock: Change.Time,
// LostUpdate.At and Backlog.Now read it.
type retRegion struct {
	store *memstore.Store
	lww   *lww.Resolver
}

func retRegions(t *testing.T, wall *xregion.ManualClock, names ...xregion.Region) []retRegion {
	t.Helper()
	var out []retRegion
	for _, n := range names {
		st, err := memstore.New(n, memstore.WithWallClock(wall))
		require.NoError(t, err)
		clock, err := xregion.NewClock(wall)
		require.NoError(t, err)
		r, err := lww.New(clock)
		require.NoError(t, err)
		require.NoError(t, st.DefineTable(t.Context(), "orders", r))
		out = append(out, retRegion{store: st, lww: r})
	}
	return out
}

// put writes key in st's region, stamped at, as a blind write: 100 bytes of
// key and value.
func put(t *testing.T, st xregion.Store, key string, at time.Time) {
	t.Helper()
	v := []byte(strings.Repeat(key[len(key)-1:], 100-len(key)))
	_, err := st.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{{Table: "orders", Record: xregion.Record{
		Key: key, Value: v, Version: xregion.Version{Time: xregion.Timestamp{WallTime: at.UnixNano()}, Region: st.Region()}}}}})
	require.NoError(t, err)
}

func del(t *testing.T, st xregion.Store, key string, at time.Time) {
	t.Helper()
	_, err := st.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{{Table: "orders", Record: xregion.Record{
		Key: key, Tombstone: true, Version: xregion.Version{Time: xregion.Timestamp{WallTime: at.UnixNano()}, Region: st.Region()}}}}})
	require.NoError(t, err)
}

func ship(t *testing.T, from, to xregion.Store) int {
	t.Helper()
	n, err := replicate.Ship(t.Context(), from, to)
	require.NoError(t, err)
	return n
}

func backlog(t *testing.T, st xregion.Store, after xregion.Position) xregion.Backlog {
	t.Helper()
	b, err := st.Backlog(t.Context(), after, st.Region())
	require.NoError(t, err)
	return b
}

func watermark(t *testing.T, st xregion.Store, peer xregion.Region) xregion.Position {
	t.Helper()
	wm, err := st.Watermark(t.Context(), peer)
	require.NoError(t, err)
	return wm
}

func TestRetain_TruncatesWhatEveryPeerApplied(t *testing.T) {
	wall := xregion.NewManualClock(t0)
	rs := retRegions(t, wall, "a", "b", "c")
	a, b, c := rs[0].store, rs[1].store, rs[2].store
	for i := range 5 {
		put(t, a, fmt.Sprint("k", i), t0)
	}
	require.Equal(t, 5, ship(t, a, b))
	require.Equal(t, 5, ship(t, a, c))
	for i := 5; i < 10; i++ {
		put(t, a, fmt.Sprint("k", i), t0)
	}
	require.Equal(t, 5, ship(t, a, b)) // c lags

	var alerts []replicate.Alert
	rep, err := replicate.Retain(t.Context(), a, []xregion.Store{b, c}, replicate.Retention{},
		replicate.WithAlerts(func(al replicate.Alert) { alerts = append(alerts, al) }))
	require.NoError(t, err)
	require.Equal(t, 5, rep.Changes, "what both peers applied")
	require.Equal(t, watermark(t, c, "a"), rep.Through, "up to the lagging peer's watermark")
	require.Empty(t, rep.Truncated)
	require.Empty(t, alerts)

	require.Equal(t, 5, ship(t, a, c), "the lagging peer gets everything it lacked")
	rep, err = replicate.Retain(t.Context(), a, []xregion.Store{b, c}, replicate.Retention{})
	require.NoError(t, err)
	require.Equal(t, 5, rep.Changes)
	require.Zero(t, backlog(t, a, xregion.Position{}).Changes, "the local changelog holds nothing anyone lacks")
}

func TestRetain_MaxUnconfirmed(t *testing.T) {
	ctx := t.Context()
	wall := xregion.NewManualClock(t0)
	rs := retRegions(t, wall, "a", "b", "c")
	a, b, c := rs[0].store, rs[1].store, rs[2].store
	for i := range 10 {
		put(t, a, fmt.Sprint("k", i), t0) // 100 bytes each
	}
	ship(t, a, b) // c is dark: it has applied nothing

	var alerts []replicate.Alert
	r := replicate.Retention{MaxUnconfirmed: 350}
	opt := replicate.WithAlerts(func(al replicate.Alert) { alerts = append(alerts, al) })
	rep, err := replicate.Retain(ctx, a, []xregion.Store{b, c}, r, opt)
	require.NoError(t, err)
	require.Equal(t, 7, rep.Changes, "three changes, 300 bytes, are kept for c")
	require.EqualValues(t, 300, backlog(t, a, xregion.Position{}).Bytes)
	require.Equal(t, []xregion.Region{"c"}, rep.Truncated)
	require.Len(t, alerts, 1)
	require.Equal(t, replicate.AlertTruncated, alerts[0].Kind)
	require.Equal(t, xregion.Region("c"), alerts[0].Peer)
	var te *xregion.TruncatedError
	require.ErrorAs(t, alerts[0].Err, &te)
	require.Equal(t, rep.Through, te.Through)
	require.True(t, te.After.IsZero(), "c had applied nothing")

	// Shipping to c fails, loudly, and says what to do.
	_, err = replicate.Ship(ctx, a, c)
	require.ErrorIs(t, err, xregion.ErrTruncated)
	require.ErrorContains(t, err, "needs a resync")

	// Writes go on: c's share stays at the limit, and no new alert is
	// raised for a peer already cut off.
	put(t, a, "k10", t0)
	ship(t, a, b)
	rep, err = replicate.Retain(ctx, a, []xregion.Store{b, c}, r, opt)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Changes)
	require.Empty(t, rep.Truncated)
	require.Len(t, alerts, 1)

	// A resync brings c back, and moves its watermark past the cut, so
	// that shipping resumes.
	tables := []resync.Table{{Name: "orders", A: rs[2].lww, B: rs[0].lww}}
	res, err := resync.Run(ctx, c, a, tables)
	require.NoError(t, err)
	require.True(t, res.Verified.Equal(), "after the resync: %+v", res.Verified)
	require.Equal(t, "changelogs and digests", res.Plan.Source)
	put(t, a, "k11", t0)
	require.Equal(t, 1, ship(t, a, c))
	for i := range 12 {
		_, err := c.Get(ctx, "orders", fmt.Sprint("k", i))
		require.NoError(t, err, "c holds k%d", i)
	}
}

// dark is a peer's Store that a test can cut off: while dark, every call
// fails.
type dark struct {
	xregion.Store
	off atomic.Bool
}

var errDark = errors.New("test: region is dark")

func (d *dark) Watermark(ctx context.Context, p xregion.Region) (xregion.Position, error) {
	if d.off.Load() {
		return xregion.Position{}, errDark
	}
	return d.Store.Watermark(ctx, p)
}

func (d *dark) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	if d.off.Load() {
		return xregion.Result{}, errDark
	}
	return d.Store.Apply(ctx, b)
}

func (d *dark) Backlog(ctx context.Context, after xregion.Position, origin xregion.Region) (xregion.Backlog, error) {
	if d.off.Load() {
		return xregion.Backlog{}, errDark
	}
	return d.Store.Backlog(ctx, after, origin)
}

// TestAsync_WithRetention runs retention in a replicator while a peer is
// dark: the local changelog stays at the limit, the alert names the peer,
// and once the peer answers again shipping to it fails with the
// truncation, in its lag, until a resync.
func TestAsync_WithRetention(t *testing.T) {
	ns := memNodes(t, "a", "b", "c")
	c := &dark{Store: ns[2].store}
	c.off.Store(true)
	alerts := make(chan replicate.Alert, 16)
	const limit = 2000
	async, err := replicate.NewAsync(ns[0].store, ns[0].clock, []xregion.Store{ns[1].store, c},
		replicate.WithRetention(replicate.Retention{Every: 10 * time.Millisecond, MaxUnconfirmed: limit}),
		replicate.WithHeartbeat(50*time.Millisecond), replicate.WithMaxBackoff(20*time.Millisecond),
		replicate.WithAlerts(func(al replicate.Alert) { alerts <- al }))
	require.NoError(t, err)
	defer async.Close()

	for i := range 100 {
		require.NoError(t, async.Write(t.Context(), order(key(i), strings.Repeat("x", 88)))) // 100 bytes
	}
	eventuallyHas(t, ns[1].store, key(99), strings.Repeat("x", 88))
	var al replicate.Alert
	select {
	case al = <-alerts:
	case <-time.After(20 * time.Second):
		t.Fatal("no alert")
	}
	require.Equal(t, replicate.AlertTruncated, al.Kind)
	require.Equal(t, xregion.Region("c"), al.Peer)
	require.ErrorIs(t, al.Err, xregion.ErrTruncated)
	require.Eventually(t, func() bool {
		return backlog(t, ns[0].store, xregion.Position{}).Bytes <= limit
	}, 20*time.Second, 5*time.Millisecond, "retention keeps the limit for c")

	c.off.Store(false)
	require.Eventually(t, func() bool {
		lags, err := async.Lag(t.Context())
		require.NoError(t, err)
		l := lags[1]
		return l.State == xregion.LinkFailing && errors.Is(l.Err, xregion.ErrTruncated) && l.RPO > 0
	}, 20*time.Second, 5*time.Millisecond, "the lag shows that c needs a resync")
	_, err = ns[2].store.Get(t.Context(), "orders", key(0))
	require.ErrorIs(t, err, xregion.ErrNotFound, "nothing was shipped past the cut")
}

// The resurrection hazard, shown and guarded against. b writes k, a deletes
// it later; retention runs at t0+20s. Either b's write has not reached a
// yet (it is in b's changelog), or it commits in b only at t0+30s, stamped
// at t0+1s (a retry of a write whose outcome was unknown), when a's delete
// has reached b and retention ran in both regions.
func TestRetain_TombstoneResurrection(t *testing.T) {
	retain := func(t *testing.T, st, peer xregion.Store, horizon time.Duration) replicate.RetentionReport {
		t.Helper()
		rep, err := replicate.Retain(t.Context(), st, []xregion.Store{peer}, replicate.Retention{TombstoneHorizon: horizon})
		require.NoError(t, err)
		return rep
	}
	for _, tc := range []struct {
		name    string
		late    bool
		collect func(t *testing.T, a, b xregion.Store)
		// resurrected: a holds b's write, not the delete, at the end.
		resurrected bool
	}{{
		name: "HorizonAloneIsNotEnough",
		collect: func(t *testing.T, a, b xregion.Store) {
			// Older than a 5 s horizon, but b's write is still on its way.
			n, err := a.(xregion.Retainer).CollectTombstones(t.Context(), xregion.Timestamp{WallTime: t0.Add(15 * time.Second).UnixNano()}, 100)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		},
		resurrected: true,
	}, {
		name: "RetainWaitsForEveryRegion",
		collect: func(t *testing.T, a, b xregion.Store) {
			rep := retain(t, a, b, 5*time.Second)
			require.Zero(t, rep.Tombstones, "b has not shipped a write made before the tombstone")
			require.Equal(t, t0.Add(time.Second), rep.Stable, "the time of b's write, which a lacks")
		},
	}, {
		name: "HorizonShorterThanAWriteTakes",
		late: true,
		collect: func(t *testing.T, a, b xregion.Store) {
			require.Equal(t, 1, retain(t, a, b, 5*time.Second).Tombstones, "nothing on its way that a store can see")
			require.Equal(t, 1, retain(t, b, a, 5*time.Second).Tombstones)
		},
		resurrected: true,
	}, {
		name: "HorizonLongerThanAWriteTakes",
		late: true,
		collect: func(t *testing.T, a, b xregion.Store) {
			require.Zero(t, retain(t, a, b, time.Minute).Tombstones)
			require.Zero(t, retain(t, b, a, time.Minute).Tombstones)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			wall := xregion.NewManualClock(t0)
			rs := retRegions(t, wall, "a", "b")
			a, b := rs[0].store, rs[1].store
			wall.Set(t0.Add(time.Second))
			if !tc.late {
				put(t, b, "k", t0.Add(time.Second))
			}
			wall.Set(t0.Add(2 * time.Second))
			del(t, a, "k", t0.Add(2*time.Second))
			if tc.late {
				ship(t, a, b)
			}
			wall.Set(t0.Add(20 * time.Second))
			tc.collect(t, a, b)
			if tc.late {
				wall.Set(t0.Add(30 * time.Second))
				put(t, b, "k", t0.Add(time.Second))
			}
			ship(t, b, a)
			ship(t, a, b)
			for _, st := range []xregion.Store{a, b} {
				r, err := st.Get(t.Context(), "orders", "k")
				resurrected := err == nil && !r.Tombstone
				if st == a || tc.late {
					require.Equal(t, tc.resurrected, resurrected, "%s holds %+v (%v)", st.Region(), r, err)
				} else {
					require.True(t, r.Tombstone, "the delete won in b")
				}
			}
		})
	}
}

// Once every region has everything, the tombstone goes in both, and nothing
// comes back.
func TestRetain_CollectsTombstonesOnceStable(t *testing.T) {
	wall := xregion.NewManualClock(t0)
	rs := retRegions(t, wall, "a", "b")
	a, b := rs[0].store, rs[1].store
	put(t, b, "k", t0)
	wall.Advance(time.Second)
	del(t, a, "k", t0.Add(time.Second))
	ship(t, a, b)
	ship(t, b, a)
	r := replicate.Retention{TombstoneHorizon: 5 * time.Second}
	wall.Set(t0.Add(5 * time.Second))
	rep, err := replicate.Retain(t.Context(), a, []xregion.Store{b}, r)
	require.NoError(t, err)
	require.Zero(t, rep.Tombstones, "within the horizon")
	wall.Set(t0.Add(7 * time.Second))
	for _, pair := range [][2]xregion.Store{{a, b}, {b, a}} {
		rep, err = replicate.Retain(t.Context(), pair[0], []xregion.Store{pair[1]}, r)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Tombstones, "in %s", pair[0].Region())
		require.Equal(t, t0.Add(7*time.Second), rep.Stable)
	}
	ship(t, a, b)
	ship(t, b, a)
	for _, st := range []xregion.Store{a, b} {
		_, err := st.Get(t.Context(), "orders", "k")
		require.ErrorIs(t, err, xregion.ErrNotFound, "in %s", st.Region())
	}
}

func TestRetain_PeerChangesAndLedger(t *testing.T) {
	ctx := t.Context()
	wall := xregion.NewManualClock(t0)
	rs := retRegions(t, wall, "a", "b")
	a, b := rs[0].store, rs[1].store
	// Concurrent writes of k: b's, later, wins in a; a's goes to a's ledger.
	put(t, a, "k", t0)
	put(t, b, "k", t0.Add(time.Millisecond))
	put(t, b, "j", t0.Add(time.Millisecond))
	ship(t, b, a)
	lus, err := a.LostUpdates(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, lus, 1)

	r := replicate.Retention{PeerChangesFor: time.Minute, LedgerFor: time.Hour}
	wall.Set(t0.Add(30 * time.Second))
	rep, err := replicate.Retain(ctx, a, []xregion.Store{b}, r)
	require.NoError(t, err)
	require.Zero(t, rep.PeerChanges+rep.Ledger)

	wall.Set(t0.Add(2 * time.Minute))
	rep, err = replicate.Retain(ctx, a, []xregion.Store{b}, r)
	require.NoError(t, err)
	require.Equal(t, 2, rep.PeerChanges, "b's two changes, after a minute")
	require.Zero(t, rep.Ledger)
	_, err = a.Changes(ctx, xregion.ChangeQuery{Origin: "b", Limit: 10})
	require.ErrorIs(t, err, xregion.ErrTruncated)
	require.Equal(t, 1, len(allChanges(t, a, "a")), "a's own change waits for b")

	// The ledger: a reader's acknowledgement, or the time.
	require.NoError(t, a.AckLostUpdates(ctx, "review", lus[0].ID))
	rep, err = replicate.Retain(ctx, a, []xregion.Store{b}, r)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Ledger)
}

func TestRetain_Invalid(t *testing.T) {
	ns := memNodes(t, "a", "b")
	for name, r := range map[string]replicate.Retention{
		"NegativeEvery":    {Every: -1},
		"NegativeLimit":    {MaxUnconfirmed: -1},
		"NegativeLedger":   {LedgerFor: -time.Second},
		"BatchTooLarge":    {BatchSize: xregion.MaxChangeLimit + 1},
		"NegativeHorizon":  {TombstoneHorizon: -time.Second},
		"NegativePeerTime": {PeerChangesFor: -time.Second},
	} {
		_, err := replicate.Retain(t.Context(), ns[0].store, []xregion.Store{ns[1].store}, r)
		require.ErrorIs(t, err, xregion.ErrInvalid, name)
		_, err = replicate.NewAsync(ns[0].store, ns[0].clock, []xregion.Store{ns[1].store}, replicate.WithRetention(r))
		require.ErrorIs(t, err, xregion.ErrInvalid, name)
	}
	_, err := replicate.Retain(t.Context(), ns[0].store, nil, replicate.Retention{})
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = replicate.Retain(t.Context(), plainStore{ns[0].store}, []xregion.Store{ns[1].store}, replicate.Retention{})
	require.ErrorIs(t, err, replicate.ErrNotRetainer)
}

// plainStore hides every optional capability of a Store.
type plainStore struct{ xregion.Store }

// A dead region's writes that retention removed from a survivor's
// changelog cannot be forwarded: CatchUp says so when another survivor
// lacks them, and goes through when none does.
func TestCatchUp_AfterRetention(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shipToC int // of a's ten writes
		fails   bool
	}{{"AnotherLacksThem", 4, true}, {"NoneLacksThem", 10, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			wall := xregion.NewManualClock(t0)
			rs := retRegions(t, wall, "a", "b", "c")
			a, b, c := rs[0].store, rs[1].store, rs[2].store
			for i := range tc.shipToC {
				put(t, a, fmt.Sprint("k", i), t0)
			}
			ship(t, a, c)
			for i := tc.shipToC; i < 10; i++ {
				put(t, a, fmt.Sprint("k", i), t0)
			}
			ship(t, a, b)
			// a dies; a while later b's retention removes a's writes.
			wall.Advance(2 * time.Minute)
			rep, err := replicate.Retain(ctx, b, []xregion.Store{a, c}, replicate.Retention{PeerChangesFor: time.Minute})
			require.NoError(t, err)
			require.Equal(t, 10, rep.PeerChanges)

			_, err = replicate.CatchUp(ctx, "a", []xregion.Store{b, c})
			if tc.fails {
				require.ErrorIs(t, err, xregion.ErrTruncated, "c lacks writes of a that b no longer holds")
				return
			}
			require.NoError(t, err)
		})
	}
}
