package router_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/router"
)

func regions(names ...xregion.Region) []router.Region {
	out := make([]router.Region, len(names))
	for i, n := range names {
		out[i] = router.Region{Name: n, URL: &url.URL{Scheme: "https", Host: string(n) + ".example.com"}}
	}
	return out
}

func TestNew_Invalid(t *testing.T) {
	u := &url.URL{Scheme: "https", Host: "a.example.com"}
	for _, tc := range []struct {
		name    string
		regions []router.Region
		opts    []router.Option
		want    string
	}{
		{"no regions", nil, nil, "none"},
		{"duplicate", regions("a", "b", "a"), nil, "named twice"},
		{"bad name", []router.Region{{Name: "A B", URL: u}}, nil, "region"},
		{"nil URL", []router.Region{{Name: "a"}}, nil, "nil"},
		{"scheme", []router.Region{{Name: "a", URL: &url.URL{Scheme: "ftp", Host: "x"}}}, nil, "scheme"},
		{"no host", []router.Region{{Name: "a", URL: &url.URL{Scheme: "https"}}}, nil, "no host"},
		{"path", []router.Region{{Name: "a", URL: &url.URL{Scheme: "https", Host: "x", Path: "/api"}}}, nil, "more than a scheme and host"},
		{"negative hold-down", regions("a"), []router.Option{router.WithHoldDown(-time.Second)}, "negative"},
		{"nil clock", regions("a"), []router.Option{router.WithWallClock(nil)}, "nil clock"},
		{"nil logger", regions("a"), []router.Option{router.WithLogger(nil)}, "nil logger"},
		{"nil option", regions("a"), []router.Option{nil}, "nil option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := router.New(tc.regions, tc.opts...)
			require.Nil(t, r)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			var ie *xregion.InvalidError
			require.ErrorAs(t, err, &ie)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// event is one step of a table of verdicts: move the clock by advance,
// then (if region is set) apply the verdict, then expect Current.
type event struct {
	advance time.Duration
	region  xregion.Region
	up      bool
	want    xregion.Region
}

func TestRouter_Current(t *testing.T) {
	const hold = 60 * time.Second
	for _, tc := range []struct {
		name   string
		events []event
	}{
		{"starts on the preferred", []event{{want: "a"}}},
		{"fails over on the verdict", []event{{region: "a", up: false, want: "b"}}},
		{"skips to the third", []event{{region: "a", want: "b"}, {region: "b", want: "c"}}},
		{"back only after the hold-down", []event{
			{region: "a", want: "b"},
			{advance: time.Second, region: "a", up: true, want: "b"},
			{advance: hold - time.Nanosecond, want: "b"},
			{advance: time.Nanosecond, want: "a"},
		}},
		{"a flapping region never takes traffic back", []event{
			{region: "a", want: "b"},
			{advance: 10 * time.Second, region: "a", up: true, want: "b"},
			{advance: 50 * time.Second, region: "a", want: "b"},
			{advance: 5 * time.Second, region: "a", up: true, want: "b"},
			{advance: 55 * time.Second, region: "a", want: "b"}, // 110 s after its first return
			{advance: 5 * time.Second, region: "a", up: true, want: "b"},
			{advance: 59 * time.Second, want: "b"},
			{advance: time.Second, want: "a"}, // stayed up 60 s at last
		}},
		{"a repeated up verdict does not restart the hold-down", []event{
			{region: "a", want: "b"},
			{region: "a", up: true, want: "b"},
			{advance: 30 * time.Second, region: "a", up: true, want: "b"},
			{advance: 30 * time.Second, want: "a"},
		}},
		{"held down beats down", []event{
			{region: "c", want: "a"},
			{region: "a", want: "b"},
			{region: "a", up: true, want: "b"},
			{region: "b", want: "a"},
			{region: "b", up: true, want: "a"}, // b held down too: the first up
		}},
		{"all down: the preferred", []event{
			{region: "a", want: "b"}, {region: "b", want: "c"}, {region: "c", want: "a"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := xregion.NewManualClock(time.Unix(1e9, 0))
			r, err := router.New(regions("a", "b", "c"), router.WithHoldDown(hold), router.WithWallClock(clock))
			require.NoError(t, err)
			for i, ev := range tc.events {
				clock.Advance(ev.advance)
				if ev.region != "" {
					require.NoError(t, r.SetUp(ev.region, ev.up))
				}
				require.Equal(t, ev.want, r.Current(), "event %d", i)
			}
		})
	}
}

func TestRouter_SetUp_UnknownRegion(t *testing.T) {
	var logs bytes.Buffer
	r, err := router.New(regions("a", "b"), router.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	require.ErrorIs(t, r.SetUp("zz", false), xregion.ErrInvalid)
	require.Equal(t, xregion.Region("a"), r.Current())

	r.Observe(health.Transition{Target: "zz", Up: false})
	require.Equal(t, xregion.Region("a"), r.Current())
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "target=zz")

	r.Observe(health.Transition{Target: "a", Up: false})
	require.Equal(t, xregion.Region("b"), r.Current())
}

// A region that flaps, through real Detector verdicts and real traffic,
// faster than the hold-down never gets a request back.
func TestRouter_RoundTripper_Flapping(t *testing.T) {
	l := newLedger()
	a, b := newRegion(t, "a", l), newRegion(t, "b", l)
	clock := xregion.NewManualClock(time.Unix(1e9, 0))
	r, err := router.New([]router.Region{{Name: "a", URL: a.url()}, {Name: "b", URL: b.url()}},
		router.WithWallClock(clock)) // DefaultHoldDown: 60 s, 6 probes
	require.NoError(t, err)
	client := &http.Client{Transport: r.RoundTripper(nil)}
	det := newDetector(t, clock, a, r)
	require.NoError(t, det.wait())

	served := func() xregion.Region {
		t.Helper()
		resp, err := client.Get("http://api.invalid/x")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return xregion.Region(body)
	}
	require.Equal(t, xregion.Region("a"), served())

	// Down for 3 probes, up for 5 (declared up after 2, so 40 s of up
	// verdict, under the hold-down), five times over.
	for round := range 5 {
		a.kill()
		for range 3 {
			require.Error(t, det.next())
			require.Equal(t, xregion.Region("b"), served(), "round %d", round)
		}
		a.start()
		for range 5 {
			require.NoError(t, det.next())
			require.Equal(t, xregion.Region("b"), served(), "round %d", round)
		}
	}
	// Then it stays up: back after the hold-down.
	for range 2 {
		require.NoError(t, det.next())
		require.Equal(t, xregion.Region("b"), served())
	}
	require.NoError(t, det.next()) // 60 s since the up verdict
	require.Equal(t, xregion.Region("a"), served())
}

func TestRouter_RoundTripper_Rewrite(t *testing.T) {
	l := newLedger()
	a := newRegion(t, "a", l)
	r, err := router.New([]router.Region{{Name: "a", URL: a.url()}})
	require.NoError(t, err)
	client := &http.Client{Transport: r.RoundTripper(nil)}
	req, err := http.NewRequest(http.MethodGet, "https://api.invalid/orders/7?id=q1&x=%2F", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/orders/7?id=q1&x=%2F", resp.Header.Get("X-Path"))
	require.Equal(t, a.addr, resp.Header.Get("X-Host"))
	require.Equal(t, "https://api.invalid/orders/7?id=q1&x=%2F", req.URL.String(), "the caller's request is not changed")
	require.Equal(t, []xregion.Region{"a"}, l.get("q1"))
}

// An answer is never retried, whatever its status.
func TestRouter_RoundTripper_NoRetryAfterResponse(t *testing.T) {
	var hits atomic.Int64
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(a.Close)
	l := newLedger()
	b := newRegion(t, "b", l)
	au, err := url.Parse(a.URL)
	require.NoError(t, err)
	r, err := router.New([]router.Region{{Name: "a", URL: au}, {Name: "b", URL: b.url()}})
	require.NoError(t, err)
	client := &http.Client{Transport: r.RoundTripper(nil)}
	resp, err := client.Get("http://api.invalid/x?id=g1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, int64(1), hits.Load())
	require.Empty(t, l.get("g1"))
}

// A dead region's idempotent request is retried only when its body can be
// read again; a single region has nowhere to retry.
func TestRouter_RoundTripper_RetryRules(t *testing.T) {
	l := newLedger()
	a, b := newRegion(t, "a", l), newRegion(t, "b", l)
	a.kill()
	r, err := router.New([]router.Region{{Name: "a", URL: a.url()}, {Name: "b", URL: b.url()}})
	require.NoError(t, err)
	client := &http.Client{Transport: r.RoundTripper(nil)}

	for _, tc := range []struct {
		name  string
		req   func() *http.Request
		retry bool
	}{
		{"GET", func() *http.Request { return mustReq(t, http.MethodGet, nil) }, true},
		{"marked POST", func() *http.Request {
			return router.Idempotent(mustReq(t, http.MethodPost, strings.NewReader("p1")))
		}, true},
		{"marked POST, body not re-readable", func() *http.Request {
			req := router.Idempotent(mustReq(t, http.MethodPost, strings.NewReader("p2")))
			req.GetBody = nil
			return req
		}, false},
		{"keyed PUT", func() *http.Request {
			req := mustReq(t, http.MethodPut, strings.NewReader("p3"))
			req.Header.Set("Idempotency-Key", "p3")
			return req
		}, true},
		{"PUT", func() *http.Request { return mustReq(t, http.MethodPut, strings.NewReader("p4")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Do(tc.req())
			if tc.retry {
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				require.Equal(t, "b", string(body))
				return
			}
			var re *router.RegionError
			require.ErrorAs(t, err, &re)
			require.Equal(t, xregion.Region("a"), re.Region)
			require.Contains(t, err.Error(), "region a")
		})
	}
	require.Equal(t, []xregion.Region{"b"}, l.get("p1"), "the body was sent again in full")
	require.Empty(t, l.get("p2"))

	// Both regions dead: the error names the retry's region and the first.
	b.kill()
	_, err = client.Get("http://api.invalid/x")
	var re *router.RegionError
	require.ErrorAs(t, err, &re)
	require.Equal(t, xregion.Region("b"), re.Region)
	require.NotNil(t, re.First)
	require.Equal(t, xregion.Region("a"), re.First.Region)

	// One region: nowhere to retry.
	one, err := router.New([]router.Region{{Name: "a", URL: a.url()}})
	require.NoError(t, err)
	_, err = (&http.Client{Transport: one.RoundTripper(nil)}).Get("http://api.invalid/x")
	require.ErrorAs(t, err, &re)
	require.Equal(t, xregion.Region("a"), re.Region)
	require.Nil(t, re.First)
}

func TestIsIdempotent(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want bool
	}{
		{"GET", func() *http.Request { return mustReq(t, http.MethodGet, nil) }, true},
		{"HEAD", func() *http.Request { return mustReq(t, http.MethodHead, nil) }, true},
		{"OPTIONS", func() *http.Request { return mustReq(t, http.MethodOptions, nil) }, true},
		{"POST", func() *http.Request { return mustReq(t, http.MethodPost, strings.NewReader("x")) }, false},
		{"PUT", func() *http.Request { return mustReq(t, http.MethodPut, strings.NewReader("x")) }, false},
		{"marked POST", func() *http.Request {
			return router.Idempotent(mustReq(t, http.MethodPost, strings.NewReader("x")))
		}, true},
		{"keyed POST", func() *http.Request {
			req := mustReq(t, http.MethodPost, strings.NewReader("x"))
			req.Header.Set("Idempotency-Key", "k1")
			return req
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, router.IsIdempotent(tc.req()))
		})
	}
}

func mustReq(t *testing.T, method string, body io.Reader) *http.Request {
	req, err := http.NewRequest(method, "http://api.invalid/x", body)
	require.NoError(t, err)
	return req
}
