package status_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/cmd/xregion/internal/status"
	"github.com/xregion/xregion/cmd/xregion/internal/status/statustest"
)

var update = flag.Bool("update", false, "rewrite testdata/status.golden.json from this run")

const golden = "testdata/status.golden.json"

func TestGather_allUp(t *testing.T) {
	d := statustest.New(t)
	rep, err := status.Gather(t.Context(), d.File, status.WithTimeout(statustest.Timeout))
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)

	body, err := json.Marshal(rep)
	require.NoError(t, err)
	got := statustest.Normalize(t, body)
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got),
		"the report's JSON changed; if on purpose, update the package doc, run go test -run TestGather_allUp -args -update, and bump Version if a field changed meaning")
}

func TestGather_blackhole(t *testing.T) {
	d := statustest.New(t)
	d.Cluster.Region("b").Proxy.Blackhole()
	const timeout = 500 * time.Millisecond
	start := time.Now()
	rep, err := status.Gather(t.Context(), d.File, status.WithTimeout(timeout))
	require.NoError(t, err)
	// Bounded by the timeout, whatever else: a slow machine adds to it,
	// a region that stalls the report would add minutes.
	require.Less(t, time.Since(start), timeout+5*time.Second)

	require.False(t, rep.OK)
	a, b := rep.Regions[0], rep.Regions[1]
	require.Equal(t, status.StatusUp, a.Status)
	require.Equal(t, status.StatusUnreachable, b.Status)
	require.Equal(t, status.Store{Status: status.StatusUnreachable, Reason: status.ReasonTimeout}, b.Store)
	require.Equal(t, &status.Health{Status: status.StatusUnreachable, Reason: status.ReasonTimeout, FailingChecks: []string{}}, b.Health)
	require.Nil(t, b.Staged)
	require.Nil(t, b.Ownership)
	for _, l := range rep.Links {
		require.Equal(t, status.LinkUnknown, l.Status, "%s -> %s", l.From, l.To)
		require.Equal(t, "b: timeout", l.Reason)
		require.Nil(t, l.RPOMS)
		require.Nil(t, l.Pending)
		// a's /health still tells when each link last heard from b.
		require.Equal(t, xregion.Region("a"), *l.ContactReportedBy)
	}
}

func TestGather_pending(t *testing.T) {
	d := statustest.New(t)
	d.Write(t, "a", "k1")
	// The RPO is whole milliseconds: gather until the write is one old.
	var rep status.Report
	for range 1000 {
		var err error
		rep, err = status.Gather(t.Context(), d.File, status.WithTimeout(statustest.Timeout))
		require.NoError(t, err)
		if l := rep.Links[0]; l.RPOMS != nil && *l.RPOMS > 0 {
			break
		}
	}
	require.False(t, rep.OK)
	ab, ba := rep.Links[0], rep.Links[1]
	require.Equal(t, status.LinkOverTarget, ab.Status)
	require.Positive(t, *ab.RPOMS)
	require.Equal(t, int64(1), *ab.Pending)
	require.Equal(t, int64(len("k1")+len("v")), *ab.PendingBytes)
	require.Equal(t, status.LinkOK, ba.Status)
	require.Zero(t, *ba.Pending)
	for _, r := range rep.Regions {
		require.Equal(t, status.StatusUp, r.Status)
	}
}

func TestMonitor_Gather(t *testing.T) {
	d := statustest.New(t)
	m, err := status.New(d.File, status.WithTimeout(time.Second))
	require.NoError(t, err)
	defer m.Close()
	// Until it sees the deployment whole: a slow first connection may time out.
	gatherOK := func() {
		t.Helper()
		for range 20 {
			rep, err := m.Gather(t.Context())
			require.NoError(t, err)
			if rep.OK {
				return
			}
		}
		t.Fatal("the deployment is never OK")
	}
	gatherOK()
	p := d.Cluster.Region("b").Proxy
	p.Blackhole()
	rep, err := m.Gather(t.Context())
	require.NoError(t, err)
	require.Equal(t, status.StatusUnreachable, rep.Regions[1].Store.Status)
	p.Heal()
	gatherOK() // through the connections it kept, or new ones

	m.Close()
	_, err = m.Gather(t.Context())
	require.Error(t, err)
}

// TestGather_unreachable checks what a region that cannot be read says,
// and that nothing of its DSN or of an error's text reaches the report.
func TestGather_unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String() // nothing listens there once closed
	require.NoError(t, ln.Close())
	serve := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/health"
	}
	const secret = "s3cret"
	dsn := "postgres://xregion:" + secret + "@" + closed + "/payments"
	f := config.File{
		Regions: []config.Region{
			{Name: "a", DSN: dsn, Health: "http://" + closed + "/health"},
			{Name: "b", DSN: dsn, Health: serve(404, "no")},
			{Name: "c", DSN: dsn, Health: serve(200, `{"status":"UP","region":"zz","checks":{}}`)},
			{Name: "d", DSN: dsn, Health: serve(503, `not json `+secret)},
			{Name: "e", DSN: dsn, Health: serve(503, `{"status":"DOWN","region":"e","checks":{"database":{"status":"DOWN","critical":true}}}`)},
		},
		Tables:     []config.Table{{Name: "payments", Strategy: config.StrategyLWW, Tier: 2}},
		Approvals:  config.DefaultApprovals,
		Partitions: config.DefaultPartitions,
	}
	rep, err := status.Gather(t.Context(), f, status.WithTimeout(10*time.Second))
	require.NoError(t, err)
	require.False(t, rep.OK)

	type seen struct {
		status               status.Status
		health, healthReason string
		storeReason          string
	}
	want := []seen{
		{status.StatusUnreachable, "UNREACHABLE", status.ReasonRefused, status.ReasonRefused},
		{status.StatusUnreachable, "UNREACHABLE", "http 404", status.ReasonRefused},
		{status.StatusUnreachable, "UNREACHABLE", status.ReasonWrongRegion, status.ReasonRefused},
		{status.StatusUnreachable, "UNREACHABLE", status.ReasonBadAnswer, status.ReasonRefused},
		{status.StatusUnreachable, "DOWN", "", status.ReasonRefused},
	}
	for i, r := range rep.Regions {
		require.Equal(t, want[i], seen{r.Status, string(r.Health.Status), r.Health.Reason, r.Store.Reason}, "region %s", r.Name)
	}
	require.Equal(t, []string{"database"}, rep.Regions[4].Health.FailingChecks)
	require.Len(t, rep.Links, 20)
	for _, l := range rep.Links {
		require.Equal(t, status.LinkUnknown, l.Status)
		require.Equal(t, "tier2", l.Tier)
		require.Equal(t, (15 * time.Minute).Milliseconds(), l.TargetMS)
	}
	require.Equal(t, "a: refused", rep.Links[0].Reason)

	body, err := json.Marshal(rep)
	require.NoError(t, err)
	var text bytes.Buffer
	require.NoError(t, status.WriteText(&text, rep))
	for _, out := range []string{string(body), text.String()} {
		require.NotContains(t, out, secret)
		require.NotContains(t, out, "127.0.0.1")
		require.NotContains(t, out, "xregion:")
	}
}

func TestNew_invalid(t *testing.T) {
	f := config.File{Regions: []config.Region{{Name: "a", DSN: "postgres://x@db.a/p"}, {Name: "b", DSN: "postgres://x@db.b/p"}},
		Tables: []config.Table{{Name: "t", Strategy: config.StrategyLWW, Tier: 1}}, Approvals: 2, Partitions: 1}
	for name, tc := range map[string]struct {
		f    config.File
		opts []status.Option
		want string
	}{
		"zero timeout": {f, []status.Option{status.WithTimeout(0)}, "timeout: 0s; want a positive duration"},
		"nil clock":    {f, []status.Option{status.WithWallClock(nil)}, "wall clock"},
		"no regions":   {config.File{Tables: f.Tables, Approvals: 2, Partitions: 1}, nil, "at least two"},
		"bad tier":     {config.File{Regions: f.Regions, Tables: []config.Table{{Name: "t", Strategy: "lww", Tier: 9}}, Approvals: 2, Partitions: 1}, nil, "tier"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := status.New(tc.f, tc.opts...)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
			_, err = status.Gather(t.Context(), tc.f, tc.opts...)
			require.True(t, errors.Is(err, xregion.ErrInvalid) && strings.Contains(err.Error(), tc.want), "%v", err)
		})
	}
}
