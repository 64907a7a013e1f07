package pgstore_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// TestStore_Horizon_IdleTransaction leaves a transaction idle in another
// database of the same server, after it took a transaction id: a change
// written after it stays out of Changes (while Backlog counts it), and the
// horizon's age, in Horizon and in the collector's gauge, grows for as
// long as the transaction stays open. Other tests on the server may hold
// the horizon further back still, so the age is checked from below.
func TestStore_Horizon_IdleTransaction(t *testing.T) {
	ctx := t.Context()
	a := openRegion(t, regiontest.Database(t), "a")
	idle, err := regiontest.Database(t).Begin(ctx)
	require.NoError(t, err)
	defer idle.Rollback(ctx)
	var (
		xid   int64
		began time.Time
	)
	require.NoError(t, idle.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint, clock_timestamp()`).Scan(&xid, &began))
	a.write(t, "behind-the-horizon")

	h, err := a.store.Horizon(ctx)
	require.NoError(t, err)
	require.LessOrEqual(t, h.Pos.Tx, uint64(xid), "the idle transaction holds the horizon")
	require.Positive(t, h.Behind)
	cs, err := a.store.Changes(ctx, xregion.ChangeQuery{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, cs, "a change after the horizon is not read")
	bl, err := a.store.Backlog(ctx, xregion.Position{}, "a")
	require.NoError(t, err)
	require.EqualValues(t, 1, bl.Changes, "but it is counted")

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(pgstore.NewHorizonCollector(a.store)))
	// gauge reads the collector's age, or -1.
	gauge := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			return -1
		}
		for _, mf := range mfs {
			if mf.GetName() == "xregion_changelog_horizon_age_seconds" && len(mf.GetMetric()) == 1 &&
				mf.GetMetric()[0].GetLabel()[0].GetValue() == "a" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	// The horizon is at least as old as the idle transaction: whatever
	// holds it took its id no later than that one did.
	for _, want := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond} {
		require.Eventually(t, func() bool {
			h, err := a.store.Horizon(ctx)
			return err == nil && h.Age() >= want && h.Age() >= h.Now.Sub(began) && gauge() >= want.Seconds()
		}, 30*time.Second, 10*time.Millisecond, "the horizon's age never reached %s", want)
	}

	require.NoError(t, idle.Rollback(ctx))
	require.Eventually(t, func() bool {
		cs, err := a.store.Changes(ctx, xregion.ChangeQuery{Limit: 10})
		return err == nil && len(cs) == 1
	}, 30*time.Second, 10*time.Millisecond, "the change is read once the transaction ends")
}
