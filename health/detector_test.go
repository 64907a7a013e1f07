package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/regiontest"
)

const interval = 10 * time.Second

// target is a region's /health behind a fault proxy: the test makes it
// answer 200 or 503, or blackholes the network in front of it.
type target struct {
	code  atomic.Int64
	flap  atomic.Bool // alternate 200 and 503, one request each
	n     atomic.Int64
	proxy *regiontest.Proxy
	url   string
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	tg.code.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := int(tg.code.Load())
		if tg.flap.Load() {
			code = http.StatusOK
			if tg.n.Add(1)%2 == 0 {
				code = http.StatusServiceUnavailable
			}
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	p, err := regiontest.NewProxy(srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	t.Cleanup(p.Heal)
	tg.proxy, tg.url = p, "http://"+p.Addr()+"/health"
	return tg
}

// harness runs a Detector on a ManualClock and steps it one probe at a time.
type harness struct {
	t      *testing.T
	clock  *xregion.ManualClock
	d      *health.Detector
	probed chan error
	probes int // steps taken
	mu     sync.Mutex
	trans  []health.Transition
}

func newHarness(t *testing.T, probe health.Probe, opts ...health.Option) *harness {
	h := &harness{t: t, clock: xregion.NewManualClock(time.Unix(1e9, 0)), probed: make(chan error, 1)}
	opts = append([]health.Option{
		health.WithTimers(h.clock),
		health.WithProbeTimeout(200 * time.Millisecond), // a real network deadline
		health.WithTransition(func(tr health.Transition) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.trans = append(h.trans, tr)
		}),
	}, opts...)
	d, err := health.NewDetector("us", func(ctx context.Context) error {
		err := probe(ctx)
		h.probed <- err
		return err
	}, opts...)
	require.NoError(t, err)
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	return h
}

// step lets the next probe run (the first runs at once; each later one
// when the clock moves one interval), waits for it to end and the
// detector to wait on its clock again, and returns the probe's result and
// the verdict. Between steps the detector sleeps, so what a test changes
// in the target then reaches the next probe, not one already under way.
func (h *harness) step() (error, health.Verdict) {
	h.t.Helper()
	if h.probes > 0 {
		h.clock.Advance(interval)
	}
	h.probes++
	err := <-h.probed
	require.Eventually(h.t, func() bool { return h.clock.Pending() == 1 }, 10*time.Second, time.Millisecond)
	return err, h.d.State()
}

func (h *harness) transitions() []health.Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]health.Transition(nil), h.trans...)
}

// A blackholed region is declared down after exactly 3 failed probes, 10 s
// apart, and up again after exactly 2 successful ones once healed.
func TestDetector_Run_BlackholedRegion(t *testing.T) {
	tg := newTarget(t)
	reg := prometheus.NewRegistry()
	m, err := health.NewMetrics(reg)
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	h := newHarness(t, health.HTTPProbe(client, tg.url), health.WithMetrics(m))
	start := h.clock.Now()

	err, v := h.step()
	require.NoError(t, err)
	require.True(t, v.Up)

	tg.proxy.Blackhole()
	for i := 1; i <= health.DefaultFailures; i++ {
		err, v := h.step()
		require.Error(t, err, "probe %d", i)
		require.Equal(t, i, v.Failures)
		require.Equal(t, i < health.DefaultFailures, v.Up, "after %d failed probes", i)
	}
	require.Equal(t, []health.Transition{{Target: "us", Up: false, At: start.Add(3 * interval), Failures: 3}}, h.transitions())
	require.Equal(t, 0.0, testutil.ToFloat64(m.Collectors()[0].(*prometheus.GaugeVec).WithLabelValues("us")))

	tg.proxy.Heal()
	for i := 1; i <= health.DefaultSuccesses; i++ {
		err, v := h.step()
		require.NoError(t, err, "probe %d", i)
		require.Equal(t, i == health.DefaultSuccesses, v.Up, "after %d successful probes", i)
	}
	require.Len(t, h.transitions(), 2)
	require.Equal(t, health.Transition{Target: "us", Up: true, At: start.Add(5 * interval)}, h.transitions()[1])

	require.Equal(t, 1.0, testutil.ToFloat64(m.Collectors()[0].(*prometheus.GaugeVec).WithLabelValues("us")))
	probes := m.Collectors()[1].(*prometheus.CounterVec)
	require.Equal(t, 3.0, testutil.ToFloat64(probes.WithLabelValues("us", "success")))
	require.Equal(t, 3.0, testutil.ToFloat64(probes.WithLabelValues("us", "timeout")))
	transitions := m.Collectors()[2].(*prometheus.CounterVec)
	require.Equal(t, 1.0, testutil.ToFloat64(transitions.WithLabelValues("us", "down")))
	require.Equal(t, 1.0, testutil.ToFloat64(transitions.WithLabelValues("us", "up")))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Equal(t, 5, n)
}

// A 503 counts as a failure as much as silence does; thresholds are
// configurable.
func TestDetector_Run_Thresholds(t *testing.T) {
	tg := newTarget(t)
	tg.code.Store(http.StatusServiceUnavailable)
	h := newHarness(t, health.HTTPProbe(nil, tg.url), health.WithThresholds(1, 3))
	_, v := h.step()
	require.False(t, v.Up, "down after 1 failure")
	tg.code.Store(http.StatusOK)
	for i := 1; i <= 3; i++ {
		_, v := h.step()
		require.Equal(t, i == 3, v.Up)
	}
}

// A target that flaps (success, failure, …) never reaches either threshold:
// from up it is never declared down, and from down never up.
func TestDetector_Run_FlappingNeverTransitions(t *testing.T) {
	tg := newTarget(t)
	tg.flap.Store(true)
	h := newHarness(t, health.HTTPProbe(nil, tg.url))
	for range 20 {
		_, v := h.step()
		require.True(t, v.Up)
	}
	require.Empty(t, h.transitions())

	tg.flap.Store(false)
	tg.code.Store(http.StatusServiceUnavailable)
	for range health.DefaultFailures {
		h.step()
	}
	require.Len(t, h.transitions(), 1)
	tg.n.Store(1) // the next answer fails, then they alternate
	tg.flap.Store(true)
	for range 20 {
		_, v := h.step()
		require.False(t, v.Up)
	}
	require.Len(t, h.transitions(), 1, "still only the transition down")
}

func TestNewDetector_Refuses(t *testing.T) {
	ok := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name string
		opts []health.Option
		want string
	}{
		{"thresholds", []health.Option{health.WithThresholds(0, 2)}, "want at least 1"},
		{"interval", []health.Option{health.WithInterval(0)}, "WithInterval"},
		{"timeout over interval", []health.Option{health.WithInterval(time.Second), health.WithProbeTimeout(2 * time.Second)}, "longer than the interval"},
		{"handler option", []health.Option{health.WithCacheFor(time.Second)}, "WithCacheFor does not apply to a Detector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := health.NewDetector("us", ok, tc.opts...)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := health.NewDetector("us", nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	require.ErrorContains(t, err, "nil")
	_, err = health.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	_, err = health.NewMetrics(reg)
	require.NoError(t, err)
	_, err = health.NewMetrics(reg)
	require.Error(t, err, "names taken")
}
