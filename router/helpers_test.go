package router_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/router"
)

// ledger counts which regions served each request id.
type ledger struct {
	mu     sync.Mutex
	served map[string][]xregion.Region
}

func newLedger() *ledger { return &ledger{served: make(map[string][]xregion.Region)} }

func (l *ledger) add(id string, r xregion.Region) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.served[id] = append(l.served[id], r)
}

func (l *ledger) get(id string) []xregion.Region {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]xregion.Region(nil), l.served[id]...)
}

// region is a region's API on a real TCP listener. kill closes the listener
// and every connection, as a region's death does; start brings it back on
// the same address. With drop set, it reads and records each request and
// then closes the connection without answering: a region that dies while
// requests are in flight.
type region struct {
	t      *testing.T
	name   xregion.Region
	ledger *ledger
	drop   atomic.Bool
	addr   string
	srv    *http.Server
}

func newRegion(t *testing.T, name xregion.Region, l *ledger) *region {
	r := &region{t: t, name: name, ledger: l}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *region) start() {
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(r.t, err)
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
}

func (r *region) kill() { r.srv.Close() }

func (r *region) url() *url.URL { return &url.URL{Scheme: "http", Host: r.addr} }

func (r *region) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/health" {
		w.WriteHeader(http.StatusOK)
		return
	}
	id := req.URL.Query().Get("id")
	if req.Method == http.MethodPost {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		id = string(b)
	}
	r.ledger.add(id, r.name)
	if r.drop.Load() {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("X-Path", req.URL.RequestURI())
	w.Header().Set("X-Host", req.Host)
	fmt.Fprint(w, r.name)
}

// detector runs a health.Detector of a region on a ManualClock, one probe
// at a time, feeding its verdicts to a Router.
type detector struct {
	t      *testing.T
	clock  *xregion.ManualClock
	probed chan error
}

const interval = 10 * time.Second

func newDetector(t *testing.T, clock *xregion.ManualClock, reg *region, rt *router.Router) *detector {
	d := &detector{t: t, clock: clock, probed: make(chan error)}
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	probe := func(pctx context.Context) error {
		err := health.HTTPProbe(client, "http://"+reg.addr+"/health")(pctx)
		select {
		case d.probed <- err:
		case <-ctx.Done():
		}
		return err
	}
	det, err := health.NewDetector(string(reg.name), probe,
		health.WithTimers(clock), health.WithInterval(interval),
		health.WithProbeTimeout(2*time.Second), // a real network deadline
		health.WithTransition(rt.Observe))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- det.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	return d
}

// wait waits for the probe under way to end and the Detector to wait on the
// clock again (its transition, if any, delivered), and returns its result.
func (d *detector) wait() error {
	d.t.Helper()
	err := <-d.probed
	require.Eventually(d.t, func() bool { return d.clock.Pending() == 1 }, 10*time.Second, time.Millisecond)
	return err
}

// next moves the clock one interval, starting the next probe, and waits for
// it as wait does.
func (d *detector) next() error {
	d.t.Helper()
	d.clock.Advance(interval)
	return d.wait()
}
