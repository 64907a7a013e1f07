package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/pgstore"
)

// get serves one GET /health and decodes the body.
func get(t *testing.T, h http.Handler) (int, health.Report, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var rep health.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep), rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	return rec.Code, rep, rec.Body.String()
}

func newMemstore(t *testing.T, r xregion.Region) *memstore.Store {
	t.Helper()
	s, err := memstore.New(r)
	require.NoError(t, err)
	return s
}

// A region whose PostgreSQL (through its proxy), Kafka (kfake on TCP) and
// in-memory store all answer is UP, and the body carries every field of the
// contract.
func TestHandler_ServeHTTP_Up(t *testing.T) {
	n := regiontest.Nodes(t, regiontest.WithRegions("eu"))[0]
	wall := xregion.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	h, err := health.New(n.Name,
		health.WithStore("database", n.Remote),
		health.WithKafka("messaging", n.KafkaBrokers()),
		health.WithCheck("cache", false, time.Second, health.StoreCheck(newMemstore(t, n.Name), n.Name)),
		health.WithWallClock(wall))
	require.NoError(t, err)

	code, rep, body := get(t, h)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, health.StatusUp, rep.Status)
	require.Equal(t, xregion.Region("eu"), rep.Region)
	require.Equal(t, "2026-01-02T03:04:05Z", rep.Timestamp)
	require.Len(t, rep.Checks, 3)
	for name, c := range rep.Checks {
		require.Equal(t, health.StatusUp, c.Status, name)
		require.Empty(t, c.Reason, name)
		require.GreaterOrEqual(t, c.LatencyMS, 0.0, name)
	}
	require.True(t, rep.Checks["database"].Critical)
	require.True(t, rep.Checks["messaging"].Critical)
	require.False(t, rep.Checks["cache"].Critical)
	require.NotNil(t, rep.Replication, "replication is [] when there are no links, never null")

	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	for _, k := range []string{"status", "region", "timestamp", "checks", "replication"} {
		require.Contains(t, raw, k)
	}
	db := raw["checks"].(map[string]any)["database"].(map[string]any)
	for _, k := range []string{"status", "critical", "latency_ms"} {
		require.Contains(t, db, k)
	}

	head := httptest.NewRecorder()
	h.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/health", nil))
	require.Equal(t, http.StatusOK, head.Code)
	require.Zero(t, head.Body.Len(), "HEAD has no body")
}

// A blackholed database (the proxy holds its bytes) times out and takes the
// region DOWN; a blackholed Kafka too; a failing non-critical check alone
// only degrades it.
func TestHandler_ServeHTTP_Down(t *testing.T) {
	n := regiontest.Nodes(t, regiontest.WithRegions("eu"))[0]
	brokers := n.KafkaBrokers()
	t.Cleanup(n.Proxy.Heal)
	t.Cleanup(n.KafkaLink().Heal)
	n.Proxy.Blackhole()
	n.KafkaLink().Blackhole()
	h, err := health.New(n.Name,
		health.WithCheck("database", true, 300*time.Millisecond, health.StoreCheck(n.Remote, n.Name)),
		health.WithCheck("messaging", true, 300*time.Millisecond, health.KafkaCheck(brokers)),
		health.WithCacheFor(0))
	require.NoError(t, err)

	code, rep, body := get(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Equal(t, health.StatusDown, rep.Status)
	for _, name := range []string{"database", "messaging"} {
		require.Equal(t, health.CheckResult{Status: health.StatusDown, Critical: true, LatencyMS: rep.Checks[name].LatencyMS,
			Reason: health.ReasonTimeout}, rep.Checks[name], name)
		require.GreaterOrEqual(t, rep.Checks[name].LatencyMS, 250.0, name)
	}

	t.Run("non-critical", func(t *testing.T) {
		h, err := health.New(n.Name,
			health.WithCheck("cache", false, time.Second, func(context.Context) error { return errors.New("boom") }),
			health.WithCheck("memory", true, time.Second, health.StoreCheck(newMemstore(t, n.Name), n.Name)))
		require.NoError(t, err)
		code, rep, _ := get(t, h)
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Equal(t, health.StatusDegraded, rep.Status)
		require.Equal(t, health.ReasonError, rep.Checks["cache"].Reason)
		require.Equal(t, health.StatusUp, rep.Checks["memory"].Status)
	})
}

// A check that ignores its context is abandoned at its timeout.
func TestHandler_ServeHTTP_CheckIgnoringContext(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h, err := health.New("eu", health.WithCheck("stuck", true, 50*time.Millisecond, func(context.Context) error {
		<-release
		return nil
	}))
	require.NoError(t, err)
	code, rep, _ := get(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, health.ReasonTimeout, rep.Checks["stuck"].Reason)
}

// Neither the DSN, its password nor the error's text reaches the body; the
// error goes to the logger.
func TestHandler_ServeHTTP_NoSecretsInBody(t *testing.T) {
	const password = "hunter2-s3cret"
	dsn := "postgres://xregion:" + password + "@127.0.0.1:1/nowhere?connect_timeout=1"
	pool, err := pgxpool.New(t.Context(), dsn) // connects lazily
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	live, err := pgstore.New(t.Context(), regiontest.Database(t), "eu")
	require.NoError(t, err)

	var logs bytes.Buffer
	leaky := errors.New("dial " + dsn + ": password authentication failed")
	h, err := health.New("eu",
		health.WithStore("database", live),
		health.WithCheck("dead", true, 2*time.Second, func(ctx context.Context) error {
			return pool.Ping(ctx) // the real pgx error for a dead server
		}),
		health.WithCheck("leaky", false, time.Second, func(context.Context) error { return leaky }),
		health.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)

	code, rep, body := get(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, health.StatusDown, rep.Status)
	require.Equal(t, health.StatusUp, rep.Checks["database"].Status)
	require.Equal(t, health.ReasonError, rep.Checks["leaky"].Reason)
	require.Equal(t, health.StatusDown, rep.Checks["dead"].Status)
	for _, secret := range []string{password, dsn, "127.0.0.1:1", "authentication", "xregion:", "dial", "nowhere"} {
		require.NotContains(t, body, secret)
	}
	require.Contains(t, logs.String(), "password authentication failed", "the error is logged")
	require.Contains(t, logs.String(), "dead")
}

// Fifty concurrent requests run each check once; the result is served from
// the cache until it is DefaultCacheFor old on the wall clock.
func TestHandler_ServeHTTP_SingleFlight(t *testing.T) {
	wall := xregion.NewManualClock(time.Unix(1e9, 0))
	var calls atomic.Int64
	h, err := health.New("eu", health.WithWallClock(wall),
		health.WithCheck("database", true, time.Second, func(context.Context) error {
			calls.Add(1)
			return nil
		}))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Go(func() {
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Equal(t, http.StatusOK, c)
	}
	require.EqualValues(t, 1, calls.Load(), "one round of checks for the storm")

	wall.Advance(health.DefaultCacheFor - time.Nanosecond)
	get(t, h)
	require.EqualValues(t, 1, calls.Load(), "still cached")
	wall.Advance(time.Nanosecond)
	get(t, h)
	require.EqualValues(t, 2, calls.Load(), "cache expired")
}

// Requests that arrive while a round runs wait for it rather than start
// their own, even with no cache.
func TestHandler_Report_JoinsRunningRound(t *testing.T) {
	var calls atomic.Int64
	entered := make(chan struct{})
	release := make(chan struct{})
	h, err := health.New("eu", health.WithCacheFor(0),
		health.WithCheck("database", true, 10*time.Second, func(context.Context) error {
			if calls.Add(1) == 1 {
				close(entered)
				<-release
			}
			return nil
		}))
	require.NoError(t, err)

	first := make(chan health.Report, 1)
	go func() {
		rep, _ := h.Report(t.Context())
		first <- rep
	}()
	<-entered // the round is running: the next caller must join it
	second := make(chan health.Report, 1)
	go func() {
		rep, _ := h.Report(t.Context())
		second <- rep
	}()
	// The second caller cannot be seen waiting; give it a deadline-bound
	// chance to start its own round, which would show in calls.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	_, err = h.Report(ctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a caller whose context ends stops waiting")
	close(release)
	require.Equal(t, health.StatusUp, (<-first).Status)
	require.Equal(t, health.StatusUp, (<-second).Status)
	require.EqualValues(t, 1, calls.Load())
}

// Replication rows carry each link's tier, state, RPO against the target
// and last contact; a link over target or unhealthy degrades the region.
func TestHandler_ServeHTTP_Replication(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	wall := xregion.NewManualClock(now)
	links := []xregion.PeerLag{
		{Peer: "us", RPO: 2 * time.Second, Pending: 7, LastContact: now.Add(-1500 * time.Millisecond), State: xregion.LinkShipping},
	}
	var mu sync.Mutex
	lag := xregion.LagFunc(func(context.Context) ([]xregion.PeerLag, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]xregion.PeerLag(nil), links...), nil
	})
	h, err := health.New("eu", health.WithWallClock(wall), health.WithCacheFor(0),
		health.WithLag("tier2", 15*time.Minute, lag))
	require.NoError(t, err)

	code, rep, body := get(t, h)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []health.LinkReport{{Peer: "us", Tier: "tier2", State: "shipping", Status: health.StatusUp,
		RPOMS: 2000, TargetMS: 900000, LastContact: "2026-01-02T03:04:03.5Z", SinceContactMS: 1500, Pending: 7}}, rep.Replication)
	require.Contains(t, body, `"rpo_ms":2000`)
	require.Contains(t, body, `"target_ms":900000`)

	for _, tc := range []struct {
		name string
		lag  xregion.PeerLag
	}{
		{"over target", xregion.PeerLag{Peer: "us", RPO: 16 * time.Minute, State: xregion.LinkShipping}},
		{"failing", xregion.PeerLag{Peer: "us", State: xregion.LinkFailing}},
		{"degraded sync", xregion.PeerLag{Peer: "us", State: xregion.LinkDegraded}},
		{"erring", xregion.PeerLag{Peer: "us", Err: errors.New("dial tcp: secret-host refused")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			links = []xregion.PeerLag{tc.lag}
			mu.Unlock()
			code, rep, body := get(t, h)
			require.Equal(t, http.StatusServiceUnavailable, code)
			require.Equal(t, health.StatusDegraded, rep.Status)
			require.Equal(t, health.StatusDegraded, rep.Replication[0].Status)
			require.NotContains(t, body, "secret-host")
		})
	}

	t.Run("lag unreadable", func(t *testing.T) {
		h, err := health.New("eu", health.WithLag("tier1", 0, xregion.LagFunc(func(context.Context) ([]xregion.PeerLag, error) {
			return nil, errors.New("password=x")
		})))
		require.NoError(t, err)
		code, rep, body := get(t, h)
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Equal(t, health.StatusDegraded, rep.Status)
		require.Equal(t, health.ReasonError, rep.Checks["replication:tier1"].Reason)
		require.NotContains(t, body, "password")
	})
}

func TestHandler_ServeHTTP_MethodNotAllowed(t *testing.T) {
	h, err := health.New("eu")
	require.NoError(t, err)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/health", strings.NewReader("{}")))
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, m)
		require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	}
}

func TestNew_Refuses(t *testing.T) {
	ok := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name string
		opts []health.Option
		want string
	}{
		{"duplicate", []health.Option{health.WithCheck("db", true, time.Second, ok), health.WithCheck("db", false, time.Second, ok)}, `two named "db"`},
		{"no timeout", []health.Option{health.WithCheck("db", true, 0, ok)}, "want a positive duration"},
		{"nil check", []health.Option{health.WithCheck("db", true, time.Second, nil)}, "nil function"},
		{"no brokers", []health.Option{health.WithKafka("messaging", nil)}, "no brokers"},
		{"detector option", []health.Option{health.WithInterval(time.Second)}, "WithInterval does not apply to a Handler"},
		{"negative cache", []health.Option{health.WithCacheFor(-1)}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := health.New("eu", tc.opts...)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := health.New("")
	require.ErrorIs(t, err, xregion.ErrInvalid)
}
