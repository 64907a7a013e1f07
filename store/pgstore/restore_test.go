package pgstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
	"github.com/xregion/xregion/store/pgstore"
)

// region is one region of these tests: its store, clock and resolver.
type region struct {
	name  xregion.Region
	store *pgstore.Store
	clock *xregion.Clock
	lww   *lww.Resolver
}

func openRegion(t *testing.T, pool *pgxpool.Pool, name xregion.Region) *region {
	t.Helper()
	st, err := pgstore.New(t.Context(), pool, name)
	require.NoError(t, err)
	clock, err := xregion.NewClock(xregion.SystemClock{})
	require.NoError(t, err)
	r, err := lww.New(clock)
	require.NoError(t, err)
	require.NoError(t, st.DefineTable(t.Context(), "orders", r))
	return &region{name: name, store: st, clock: clock, lww: r}
}

// order is a write of key, stamped now in r.
func (r *region) order(t *testing.T, key string) xregion.Write {
	t.Helper()
	v, err := r.clock.Stamp(r.name, xregion.Version{})
	require.NoError(t, err)
	return xregion.Write{Table: "orders", Record: xregion.Record{Key: key, Value: []byte(key), Version: v}}
}

func (r *region) write(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, err := r.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{r.order(t, k)}})
		require.NoError(t, err)
	}
}

// shipAll ships from's changes to to until to's watermark covers them all:
// a transaction open elsewhere on the server may hide some for a while.
func shipAll(t *testing.T, from, to *region) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to catch up with %s", to.name, from.name), func() bool {
		_, err := replicate.Ship(t.Context(), from.store, to.store)
		require.NoError(t, err)
		wm, err := to.store.Watermark(t.Context(), from.name)
		require.NoError(t, err)
		b, err := from.store.Backlog(t.Context(), wm, from.name)
		require.NoError(t, err)
		return b.Changes == 0
	})
}

// waitFor calls cond, on the test's goroutine, until it holds, for 30 s at
// most: long enough for a transaction another test holds open on the
// server to end.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func keyRange(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// TestRestore_FromLogicalDump loses region a's server and restores a from
// a logical dump onto a new one: shipping to b must refuse, with an error
// that says what happened and what to do, instead of stopping silently;
// and the way forward it names must bring the link back.
//
// What it proves. The dump is pg_dump's, read by psql into a database of a
// PostgreSQL cluster made for the test by initdb (regiontest.NewServer),
// as an operator restores a region whose server is gone: the changelog
// keeps the positions it had, which are the ids of the transactions that
// wrote them on the old server (tens of thousands and up on a server that
// has run tests for a while), while the new server counts its
// transactions again from about 700. Nothing is faked or edited.
//
// Before the check, New opened the restored store, Apply wrote the new
// changes at positions near 750, far below b's watermark for a; Ship read
// nothing after that watermark and returned 0 without an error; Backlog
// counted 0, so the RPO read 0; and b never received the writes.
func TestRestore_FromLogicalDump(t *testing.T) {
	ctx := t.Context()
	lost, dbB := regiontest.Database(t), regiontest.Database(t)
	fresh := regiontest.NewServer(t) // skips where there are no PostgreSQL programs to run
	a, b := openRegion(t, lost, "a"), openRegion(t, dbB, "b")
	a.write(t, keyRange("before-dump", 10)...)
	shipAll(t, a, b)

	restored := fresh.Database(t)
	regiontest.DumpRestore(t, lost, restored)
	// a takes writes after the dump and ships them; then its server is
	// lost. b holds them, the restored a does not.
	a.write(t, keyRange("after-dump", 3)...)
	shipAll(t, a, b)
	wm, err := b.store.Watermark(ctx, "a")
	require.NoError(t, err)

	a = openRegion(t, restored, "a") // opens, for reading
	got, err := a.store.Get(ctx, "orders", "before-dump-09")
	require.NoError(t, err)
	require.Equal(t, "before-dump-09", got.Key)

	// Writing is refused: the changelog holds positions the new server
	// has not reached.
	_, err = a.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{a.order(t, "after-restore")}})
	pe := requirePositionsError(t, err)
	require.True(t, pe.Held)
	require.Contains(t, err.Error(), "another PostgreSQL cluster")
	require.Contains(t, err.Error(), "restored from a logical dump")

	// So is shipping, from b's watermark, with the way forward.
	n, err := replicate.Ship(ctx, a.store, b.store)
	require.Zero(t, n)
	pe = requirePositionsError(t, err)
	require.False(t, pe.Held)
	require.Equal(t, wm, pe.Beyond, "the position refused is b's watermark for a")
	require.True(t, pe.Next.Less(wm))
	require.Contains(t, err.Error(), "replicate.AdvancePositions")
	require.Contains(t, err.Error(), "resync")
	t.Log(err)

	// A replicator shows it: the link fails with that error, an alert is
	// raised, and the RPO counts what b may lack instead of reading zero.
	alerts := make(chan replicate.Alert, 16)
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.store}, replicate.WithPollInterval(5*time.Millisecond),
		replicate.WithMaxBackoff(20*time.Millisecond), replicate.WithAlerts(func(al replicate.Alert) {
			select {
			case alerts <- al:
			default:
			}
		}))
	require.NoError(t, err)
	defer rep.Close()
	select {
	case al := <-alerts:
		require.Equal(t, replicate.AlertPositionsReset, al.Kind)
		require.ErrorIs(t, al.Err, xregion.ErrPositionsReset)
	case <-time.After(30 * time.Second):
		t.Fatal("no alert that shipping stopped")
	}
	lags, err := rep.Lag(ctx)
	require.NoError(t, err)
	require.Equal(t, xregion.LinkFailing, lags[0].State)
	require.ErrorIs(t, lags[0].Err, xregion.ErrPositionsReset)
	require.Positive(t, lags[0].RPO)
	require.EqualValues(t, 10, lags[0].Pending, "every change of a's changelog counts as lacking")

	// The way forward: advance a's changelog past b's watermark; writes
	// ship again.
	first, err := replicate.AdvancePositions(ctx, a.store, b.store)
	require.NoError(t, err)
	require.True(t, wm.Less(first))
	require.NoError(t, rep.Write(ctx, a.order(t, "after-advance")))
	require.Eventually(t, func() bool {
		_, err := b.store.Get(ctx, "orders", "after-advance")
		return err == nil
	}, 30*time.Second, 10*time.Millisecond, "the write after the advance never reached b")
	require.Eventually(t, func() bool {
		lags, err := rep.Lag(ctx)
		return err == nil && lags[0].State == xregion.LinkShipping && lags[0].Err == nil && lags[0].Pending == 0
	}, 30*time.Second, 10*time.Millisecond)

	// And a resync brings back what the restore lost.
	_, err = a.store.Get(ctx, "orders", "after-dump-00")
	require.ErrorIs(t, err, xregion.ErrNotFound)
	rep.Close()
	report, err := resync.Run(ctx, a.store, b.store, []resync.Table{{Name: "orders", A: a.lww, B: b.lww}}, resync.WithDigestsOnly())
	require.NoError(t, err)
	require.True(t, report.Verified.Equal(), "a and b differ after the resync")
	for _, k := range keyRange("after-dump", 3) {
		_, err := a.store.Get(ctx, "orders", k)
		require.NoError(t, err, "resync brought %s back to a", k)
	}
}

// TestRestore_SameServer restores region a from a logical dump into a new
// database on the same server: its transaction ids go on from where they
// were, above every position the changelog holds, so nothing is refused
// and shipping goes on.
func TestRestore_SameServer(t *testing.T) {
	ctx := t.Context()
	lost, restored, dbB := regiontest.Database(t), regiontest.Database(t), regiontest.Database(t)
	a, b := openRegion(t, lost, "a"), openRegion(t, dbB, "b")
	a.write(t, keyRange("before-dump", 5)...)
	shipAll(t, a, b)
	regiontest.DumpRestore(t, lost, restored)

	a = openRegion(t, restored, "a")
	a.write(t, "after-restore")
	shipAll(t, a, b)
	_, err := b.store.Get(ctx, "orders", "after-restore")
	require.NoError(t, err)
}

func requirePositionsError(t *testing.T, err error) *xregion.PositionsError {
	t.Helper()
	require.ErrorIs(t, err, xregion.ErrPositionsReset)
	var pe *xregion.PositionsError
	require.True(t, errors.As(err, &pe), "%v is not a *xregion.PositionsError", err)
	return pe
}
