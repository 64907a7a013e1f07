package router_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/router"
)

type kind int

const (
	get       kind = iota // GET, idempotent by its method
	post                  // POST, not idempotent
	keyedPost             // POST with an Idempotency-Key and a re-readable body
)

// result is what the caller of one request saw.
type result struct {
	id     string
	kind   kind
	served xregion.Region // the answering region, from the body
	err    error
}

// traffic sends n requests, a GET, a POST and a keyed POST in turn, each
// with a unique id, from 4 goroutines, and returns what each caller saw.
func traffic(t *testing.T, client *http.Client, phase string, n int) []result {
	t.Helper()
	results := make([]result, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				res := result{id: fmt.Sprintf("%s-%d", phase, i), kind: kind(i % 3)}
				var req *http.Request
				var err error
				switch res.kind {
				case get:
					req, err = http.NewRequest(http.MethodGet, "http://api.invalid/orders?id="+res.id, nil)
				default:
					req, err = http.NewRequest(http.MethodPost, "http://api.invalid/orders", strings.NewReader(res.id))
					if res.kind == keyedPost {
						req.Header.Set("Idempotency-Key", res.id)
					}
				}
				if err != nil {
					res.err = err
					results[i] = res
					continue
				}
				resp, err := client.Do(req)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					res.served = xregion.Region(b)
				}
				res.err = err
				results[i] = res
			}
		})
	}
	wg.Wait()
	return results
}

// Traffic goes through the router while the preferred region a dies: first
// dropping requests it has read, then refusing connections. Every GET
// succeeds (on b if a failed it), every keyed POST too; a plain POST
// succeeds exactly once or returns an error naming a, and is never served
// twice. The Detector's down verdict moves all traffic to b; a's recovery
// moves it back only after the hold-down.
func TestRouter_RoundTripper_RegionDies(t *testing.T) {
	const holdDown = 60 * time.Second
	l := newLedger()
	a, b := newRegion(t, "a", l), newRegion(t, "b", l)
	clock := xregion.NewManualClock(time.Unix(1e9, 0))
	r, err := router.New([]router.Region{{Name: "a", URL: a.url()}, {Name: "b", URL: b.url()}},
		router.WithHoldDown(holdDown), router.WithWallClock(clock))
	require.NoError(t, err)
	client := &http.Client{Transport: r.RoundTripper(&http.Transport{ResponseHeaderTimeout: 5 * time.Second})}
	det := newDetector(t, clock, a, r)

	var all []result
	run := func(phase string, want func(res result)) {
		t.Helper()
		for _, res := range traffic(t, client, phase, 30) {
			want(res)
			all = append(all, res)
		}
	}
	servedBy := func(region xregion.Region) func(result) {
		return func(res result) {
			require.NoError(t, res.err, res.id)
			require.Equal(t, region, res.served, res.id)
			require.Equal(t, []xregion.Region{region}, l.get(res.id), res.id)
		}
	}
	// failing expects a's failures before the verdict: the idempotent
	// requests retried on b, the plain POSTs refused with a's name.
	failing := func(res result) {
		if res.kind != post {
			require.NoError(t, res.err, res.id)
			require.Equal(t, xregion.Region("b"), res.served, res.id)
			return
		}
		var re *router.RegionError
		require.ErrorAs(t, res.err, &re, res.id)
		require.Equal(t, xregion.Region("a"), re.Region)
		require.Nil(t, re.First, "a plain POST is never retried")
	}

	require.NoError(t, det.wait())
	run("healthy", servedBy("a"))

	a.drop.Store(true) // a reads each request, then dies before answering
	run("dropping", failing)
	for _, res := range all[len(all)-30:] {
		if res.kind == post {
			require.Equal(t, []xregion.Region{"a"}, l.get(res.id), "%s: read by a, never sent again", res.id)
		}
	}

	a.kill()
	run("refused", failing)
	for i := 1; i <= 3; i++ {
		require.Error(t, det.next(), "probe %d", i)
		if i < 3 {
			require.Equal(t, xregion.Region("a"), r.Current(), "before the verdict")
			run(fmt.Sprintf("refused%d", i), failing)
		}
	}
	require.Equal(t, xregion.Region("b"), r.Current(), "the verdict moves traffic at once")
	run("after", servedBy("b"))

	// a comes back: up after 2 probes, but held down for 60 s from then.
	a.drop.Store(false)
	a.start()
	require.NoError(t, det.next())
	require.Equal(t, xregion.Region("b"), r.Current())
	require.NoError(t, det.next()) // up: the hold-down starts now
	upAt := clock.Now()
	run("held", servedBy("b"))
	for clock.Now().Sub(upAt) < holdDown {
		require.Equal(t, xregion.Region("b"), r.Current(), "%v into the hold-down", clock.Now().Sub(upAt))
		require.NoError(t, det.next())
	}
	require.Equal(t, xregion.Region("a"), r.Current(), "after the hold-down")
	run("back", servedBy("a"))

	// Over all traffic: no GET and no keyed POST failed; no plain POST was
	// served twice, and each one that succeeded was served exactly once.
	var failedPosts int
	for _, res := range all {
		served := l.get(res.id)
		switch res.kind {
		case get, keyedPost:
			require.NoError(t, res.err, res.id)
			require.Contains(t, served, res.served, res.id)
		case post:
			require.LessOrEqual(t, len(served), 1, "%s served %v", res.id, served)
			if res.err == nil {
				require.Equal(t, []xregion.Region{res.served}, served, res.id)
			} else {
				failedPosts++
				require.False(t, errors.Is(res.err, xregion.ErrInvalid))
			}
		}
	}
	require.Equal(t, 4*10, failedPosts, "the plain POSTs of the 4 phases before the verdict")
}
