package replicate_test

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// TestAsync_LagTellsTheTruth checks the three faces of honest lag: zero on an
// idle healthy link, growing while the peer is dark and writes go on, and an
// ageing last contact on an idle dead link. The replicator's heartbeats run
// on a manual clock, moved by hand; the RPO is the store's, on its own
// clock, PostgreSQL's.
func TestAsync_LagTellsTheTruth(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	const beat = 100 * time.Millisecond
	clock := xregion.NewManualClock(time.Now())
	var mu sync.Mutex
	var alerts []replicate.Alert
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote},
		replicate.WithTimers(clock), replicate.WithHeartbeat(beat), replicate.WithPollInterval(time.Millisecond),
		replicate.WithTier(replicate.Tier{Name: "test", RPO: 200 * time.Millisecond, Strategy: replicate.StrategyAsync}),
		replicate.WithAlerts(func(al replicate.Alert) { mu.Lock(); alerts = append(alerts, al); mu.Unlock() }))
	require.NoError(t, err)
	defer rep.Close()
	lag := func() xregion.PeerLag {
		l, err := rep.Lag(t.Context())
		require.NoError(t, err)
		return l[0]
	}
	// heartbeat moves the clock one heartbeat on, once the shipper and the
	// RPO watch wait on it.
	heartbeat := func() {
		require.Eventually(t, func() bool { return clock.Pending() >= 2 }, 10*time.Second, time.Millisecond)
		clock.Advance(beat)
	}

	// Idle and healthy: nothing pending, RPO zero, and each heartbeat hears
	// from the peer.
	require.NoError(t, rep.Write(t.Context(), order("first", "v")))
	require.Eventually(t, func() bool {
		// The shipper's polls run on the clock: one that found the change
		// hidden (another test's transaction holds the server's horizon)
		// polls again when the clock moves.
		clock.Advance(time.Millisecond)
		return lag().Pending == 0
	}, 10*time.Second, 5*time.Millisecond)
	for range 3 {
		heartbeat()
		require.Eventually(t, func() bool { return lag().LastContact.Equal(clock.Now()) }, 10*time.Second, time.Millisecond,
			"the heartbeat reaches the peer")
	}
	idle := lag()
	require.Zero(t, idle.RPO)
	require.Zero(t, idle.SinceContact(clock.Now()), "heartbeats keep an idle healthy link in contact")
	require.Equal(t, xregion.LinkShipping, idle.State)

	// The peer goes dark while writes go on: the RPO, on the store's clock,
	// grows with them.
	b.pg.Proxy.Blackhole()
	defer b.pg.Proxy.Heal()
	darkSince := time.Now()
	var samples []xregion.PeerLag
	for i := range 6 {
		require.NoError(t, rep.Write(t.Context(), order(key(i), "v")))
		time.Sleep(50 * time.Millisecond) // real time passing at the store, whose clock stamps the changes
		samples = append(samples, lag())
	}
	for i := 1; i < len(samples); i++ {
		require.Greater(t, samples[i].RPO, samples[i-1].RPO, "RPO must grow while the peer is dark")
		require.GreaterOrEqual(t, samples[i].Pending, samples[i-1].Pending)
	}
	last := samples[len(samples)-1]
	require.GreaterOrEqual(t, last.RPO, time.Since(darkSince)-150*time.Millisecond,
		"the first write after the link went dark is missing, and the RPO says so")
	require.EqualValues(t, 6, last.Pending)

	// Writes stop; the link stays dead: the last contact ages with the
	// heartbeats that go unanswered, and the RPO watch, checking every
	// heartbeat, alerts on the RPO over the tier's target.
	contact := lag().LastContact
	for range 5 {
		clock.Advance(beat) // the shipper is stuck in a batch to the dark peer: only the RPO watch waits
	}
	dead := lag()
	require.Greater(t, dead.RPO, last.RPO, "the writes are still missing")
	require.Equal(t, contact, dead.LastContact, "a dead link is not heard from")
	require.GreaterOrEqual(t, dead.SinceContact(clock.Now()), 5*beat, "an idle dead link shows as silent")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(alerts) > 0
	}, 10*time.Second, time.Millisecond, "crossing the tier's target alerts")
	mu.Lock()
	require.Equal(t, replicate.AlertOverTarget, alerts[0].Kind)
	require.False(t, alerts[0].At.After(clock.Now()), "alerts are stamped on the replicator's clock")
	mu.Unlock()

	// The metrics say the same, read on the same clock.
	reg := prometheus.NewRegistry()
	reg.MustRegister(replicate.NewLagCollector("test", rep, replicate.WithTimers(clock)))
	n, err := testutil.GatherAndCount(reg, "xregion_replication_rpo_seconds")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 6.0, gathered(t, reg, "xregion_replication_pending_changes"))
	require.GreaterOrEqual(t, gathered(t, reg, "xregion_replication_last_contact_seconds"), (5 * beat).Seconds())

	// Healed: the peer catches up and the RPO falls back to zero.
	b.pg.Proxy.Heal()
	require.Eventually(t, func() bool {
		clock.Advance(time.Millisecond) // the shipper's polls and backoff
		l := lag()
		return l.Pending == 0 && l.RPO == 0
	}, 20*time.Second, 10*time.Millisecond)
}

// gathered returns the value of the single series of a gauge.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestAsync_GuardrailRejects refuses writes while the RPO is over target.
func TestAsync_GuardrailRejects(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote},
		replicate.WithHeartbeat(50*time.Millisecond),
		replicate.WithTier(replicate.Tier{Name: "test", RPO: 100 * time.Millisecond, Strategy: replicate.StrategyAsync}),
		replicate.WithGuardrail(replicate.Guardrail{Reject: true}))
	require.NoError(t, err)
	defer rep.Close()
	b.pg.Proxy.Blackhole()
	require.NoError(t, rep.Write(t.Context(), order("k", "v")))
	var rejected error
	require.Eventually(t, func() bool {
		rejected = rep.Write(t.Context(), order("k2", "v"))
		return rejected != nil
	}, 10*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, rejected, replicate.ErrRPOExceeded)
	require.Contains(t, rejected.Error(), "over the target 100ms")
	b.pg.Proxy.Heal()
	require.Eventually(t, func() bool { return rep.Write(t.Context(), order("k3", "v")) == nil }, 20*time.Second, 20*time.Millisecond)
}
