package replicate_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// acked is what the writers of a fault test were told.
type acked struct {
	mu    sync.Mutex
	start map[string]time.Time // acknowledged key → when its write started
	nack  int
}

func (a *acked) ok(key string, start time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.start[key] = start
}

func (a *acked) failed() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nack++
}

// writeFor runs n writers against rep until stop closes; each write has its
// own deadline.
func writeFor(rep *replicate.Sync, n int, deadline time.Duration, stop <-chan struct{}) *acked {
	res := &acked{start: map[string]time.Time{}}
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%02d-%05d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				err := rep.Write(ctx, order(k, "paid"))
				cancel()
				if err == nil {
					res.ok(k, start)
				} else {
					res.failed()
				}
			}
		})
	}
	go func() { <-stop; wg.Wait() }()
	return res
}

// presentOnPeer resolves what the peer holds staged (as it would before
// taking over) and reports the acknowledged keys it lacks.
func presentOnPeer(t *testing.T, peer *node, keys map[string]time.Time) []string {
	t.Helper()
	_, err := peer.store.(xregion.Stager).ApplyStaged(t.Context())
	require.NoError(t, err)
	var missing []string
	for k := range keys {
		if _, err := peer.store.Get(t.Context(), "orders", k); err != nil {
			require.ErrorIs(t, err, xregion.ErrNotFound)
			missing = append(missing, k)
		}
	}
	return missing
}

// TestSync_StrictKeepsEveryAcknowledgedWrite runs concurrent writers while
// the peer's link blackholes, resets and heals at random; then, as if the
// writing region died at that moment, the peer takes over: every write that
// was acknowledged must be there.
func TestSync_StrictKeepsEveryAcknowledgedWrite(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote},
		replicate.WithTier(replicate.Tier1), replicate.WithHeartbeat(200*time.Millisecond))
	require.NoError(t, err)

	stop := make(chan struct{})
	res := writeFor(rep, 12, 300*time.Millisecond, stop)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 12 {
		// The faults last real time: the writers' deadlines and the
		// network round trips they cut are real.
		time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
		switch rng.IntN(3) {
		case 0:
			b.pg.Proxy.Blackhole() // longer than the writes' deadline, often
			time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
			b.pg.Proxy.Heal()
		case 1:
			b.pg.Proxy.Reset()
		case 2:
			b.pg.Proxy.Blackhole()
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			b.pg.Proxy.Reset()
			b.pg.Proxy.Heal()
		}
	}
	// Region a dies in the middle of a network split: what the peer holds now
	// is all it will ever get, so the changelog stream cannot make up for
	// a write that was acknowledged without being staged.
	b.pg.Proxy.Blackhole()
	time.Sleep(800 * time.Millisecond) // writes go on against the dark link, to their real deadlines
	close(stop)
	time.Sleep(500 * time.Millisecond) // the writers' last deadlines pass
	require.NoError(t, rep.Close())

	res.mu.Lock()
	defer res.mu.Unlock()
	t.Logf("%d writes acknowledged, %d refused", len(res.start), res.nack)
	require.NotEmpty(t, res.start)
	require.Positive(t, res.nack, "the faults must have refused some writes, or the test proves nothing")
	require.Empty(t, presentOnPeer(t, b, res.start), "acknowledged writes missing on the peer")
}

// TestSync_DegradeReportsTheRPOItLoses degrades a silent peer and checks
// the RPO reported then against the writes really missing on the peer: it
// may overstate, never understate.
func TestSync_DegradeReportsTheRPOItLoses(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	var alerts sync.Map
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote},
		replicate.WithPolicy(replicate.Degrade), replicate.WithDegradeAfter(300*time.Millisecond),
		replicate.WithHeartbeat(100*time.Millisecond),
		replicate.WithAlerts(func(al replicate.Alert) { alerts.Store(al.Kind, al) }))
	require.NoError(t, err)
	defer rep.Close()

	stop := make(chan struct{})
	res := writeFor(rep, 8, 5*time.Second, stop)
	time.Sleep(200 * time.Millisecond) // writes reach the peer over the real network first
	b.pg.Proxy.Blackhole()
	require.Eventually(t, func() bool { return state(t, rep) == xregion.LinkDegraded }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // writes go on without the peer

	// The moment the RPO is asked for, on the store's clock (which stamps
	// the changes' commit times): the writes missing then must lie within
	// the RPO the answer reports.
	b0, err := a.store.Backlog(t.Context(), xregion.Position{}, "a")
	require.NoError(t, err)
	measured := b0.Now
	lags, err := rep.Lag(t.Context())
	require.NoError(t, err)
	close(stop)
	time.Sleep(100 * time.Millisecond) // the writers' last round trips end

	res.mu.Lock()
	missing := presentOnPeer(t, b, res.start)
	res.mu.Unlock()
	require.NotEmpty(t, missing, "writes were acknowledged without the peer")
	_, degraded := alerts.Load(replicate.AlertDegraded)
	require.True(t, degraded, "degrading alerts")

	// The peer returns: the stream catches it up and it is synchronous again.
	b.pg.Proxy.Heal()
	require.Eventually(t, func() bool {
		l, err := rep.Lag(t.Context())
		return err == nil && l[0].State == xregion.LinkSync && l[0].RPO == 0
	}, 20*time.Second, 10*time.Millisecond)
	_, recovered := alerts.Load(replicate.AlertRecovered)
	require.True(t, recovered)

	// The missing writes' commit times, read now: while b was dark, the
	// transaction it held open on the server held every changelog back.
	committed := map[string]time.Time{}
	for _, c := range allChanges(t, a.store, "a") {
		committed[c.Record.Key] = c.Time
	}
	oldest := measured
	for _, k := range missing {
		c, ok := committed[k]
		require.True(t, ok, "the acknowledged write %s is in the local changelog", k)
		if c.Before(oldest) {
			oldest = c
		}
	}
	window := measured.Sub(oldest)
	require.GreaterOrEqual(t, lags[0].RPO, window, "reported RPO %s, but writes committed %s before were missing", lags[0].RPO, window)
	require.NoError(t, rep.Write(t.Context(), order("after", "v")))
}

// TestSync_Quorum acknowledges with ANY 1 of 2 peers while one is dark.
func TestSync_Quorum(t *testing.T) {
	ns := pgNodes(t, "a", "b", "c")
	a, b, c := ns[0], ns[1], ns[2]
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote, c.remote}, replicate.WithQuorum(1))
	require.NoError(t, err)
	defer rep.Close()
	c.pg.Proxy.Blackhole()
	defer c.pg.Proxy.Heal()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, rep.Write(ctx, order("k", "v")))
	require.Empty(t, presentOnPeer(t, b, map[string]time.Time{"k": {}}))

	b.pg.Proxy.Blackhole()
	defer b.pg.Proxy.Heal()
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = rep.Write(ctx, order("k2", "v"))
	var se *replicate.SyncError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, replicate.ErrNotAcknowledged)
	require.ErrorIs(t, err, xregion.ErrOutcomeUnknown)
	require.NoError(t, se.Local, "the write committed locally")
	require.Equal(t, 1, se.Required)
	require.Contains(t, err.Error(), "committed locally")
}

func TestNewSync_Invalid(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	for name, opts := range map[string][]replicate.Option{
		"quorum too big":    {replicate.WithQuorum(2)},
		"no degrade wait":   {replicate.WithPolicy(replicate.Degrade), replicate.WithDegradeAfter(0)},
		"guardrail no tier": {replicate.WithGuardrail(replicate.Guardrail{Reject: true})},
		"no peer slot":      {replicate.WithMaxInFlight(0)},
		"no local slot":     {replicate.WithLocalInFlight(0)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.store}, opts...)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}
	_, err := replicate.NewSync(a.store, a.clock, []xregion.Store{a.store})
	require.ErrorIs(t, err, xregion.ErrInvalid, "the local region is not its own peer")
}

func TestTiers_RefuseWhatTheyCannotMeet(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	peers := []xregion.Store{b.store}
	for name, build := range map[string]func() error{
		"tier1 async": func() error {
			_, err := replicate.NewAsync(a.store, a.clock, peers, replicate.WithTier(replicate.Tier1))
			return err
		},
		"tier1 degrade": func() error {
			_, err := replicate.NewSync(a.store, a.clock, peers, replicate.WithTier(replicate.Tier1), replicate.WithPolicy(replicate.Degrade))
			return err
		},
		"tier3 snapshot every 2h": func() error {
			_, err := replicate.NewSnapshot(a.store, a.clock, peers, replicate.WithTier(replicate.Tier3), replicate.WithEvery(2*time.Hour))
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := build()
			require.ErrorIs(t, err, replicate.ErrTierUnmet)
			var te *replicate.TierError
			require.True(t, errors.As(err, &te))
			require.NotEmpty(t, te.Fix)
			require.Contains(t, err.Error(), "cannot meet its RPO")
		})
	}
	s, err := replicate.NewSnapshot(a.store, a.clock, peers, replicate.WithTier(replicate.Tier3), replicate.WithEvery(time.Hour))
	require.NoError(t, err, "an hourly snapshot meets Tier 3")
	require.NoError(t, s.Close())
}

// TestSync_GuardrailRejects: under Degrade, writes go on without a dark
// peer, and the guardrail refuses them once the RPO passes the tier's
// target, as it does for Async.
func TestSync_GuardrailRejects(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{b.remote},
		replicate.WithPolicy(replicate.Degrade), replicate.WithDegradeAfter(100*time.Millisecond),
		replicate.WithHeartbeat(50*time.Millisecond),
		replicate.WithTier(replicate.Tier{Name: "test", RPO: 200 * time.Millisecond, Strategy: replicate.StrategySync}),
		replicate.WithGuardrail(replicate.Guardrail{Reject: true}))
	require.NoError(t, err)
	defer rep.Close()
	b.pg.Proxy.Blackhole()
	require.NoError(t, rep.Write(t.Context(), order("k", "v")), "degraded: acknowledged without the peer")
	var rejected error
	require.Eventually(t, func() bool {
		rejected = rep.Write(t.Context(), order("k2", "v"))
		return rejected != nil
	}, 10*time.Second, 20*time.Millisecond, "the guardrail refuses writes once the RPO is over target")
	require.ErrorIs(t, rejected, replicate.ErrRPOExceeded)
	b.pg.Proxy.Heal()
	require.Eventually(t, func() bool { return rep.Write(t.Context(), order("k3", "v")) == nil }, 20*time.Second, 20*time.Millisecond)
}

// Under Degrade, a write one peer skipped because it was degraded is
// acknowledged by the others even if that peer answers again by the time
// the write counts its answers (it is recovering, sending again): the
// soak of retention saw such writes refused with "1 of 2 required peers".
// Under Strict the same answers refuse the write.
func TestSync_WriteSkippedByAPeerThatRecovered(t *testing.T) {
	ns := memNodes(t, "a", "b", "c")
	a := ns[0]
	for _, tc := range []struct {
		policy replicate.Policy
		ok     bool
	}{{replicate.Degrade, true}, {replicate.Strict, false}} {
		rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{ns[1].remote, ns[2].remote}, replicate.WithPolicy(tc.policy))
		require.NoError(t, err)
		// Both peers send (neither is degraded now); c skipped this write.
		err = replicate.WaitAnswered(rep, nil, nil, fmt.Errorf("c %w", replicate.ErrDegraded))
		if tc.ok {
			require.NoError(t, err, "policy %v", tc.policy)
		} else {
			var se *replicate.SyncError
			require.ErrorAs(t, err, &se, "policy %v", tc.policy)
			require.Equal(t, 2, se.Required)
		}
		require.NoError(t, rep.Close())
	}
}
