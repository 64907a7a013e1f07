package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/cmd/xregion/internal/status"
	"github.com/xregion/xregion/cmd/xregion/internal/status/statustest"
)

// statusGolden is the report's JSON shape, pinned by package status's
// tests on the same deployment.
const statusGolden = "internal/status/testdata/status.golden.json"

// runStatus runs xregion status with args and returns the exit status,
// stdout and stderr.
func runStatus(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"status"}, args...), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func decodeReport(t *testing.T, s string) status.Report {
	t.Helper()
	var rep status.Report
	require.NoError(t, json.Unmarshal([]byte(s), &rep), s)
	return rep
}

func TestStatus_allUp(t *testing.T) {
	d := statustest.New(t)
	code, stdout, stderr := runStatus(t, t.Context(), "--config", d.Path, "--json", "--timeout", statustest.Timeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Empty(t, stderr)
	want, err := os.ReadFile(statusGolden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(statustest.Normalize(t, []byte(stdout))))

	code, stdout, stderr = runStatus(t, t.Context(), "--config", d.Path)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, ": OK (timeout 5s)")
	require.Contains(t, stdout, "a -> b  OK")
	require.Contains(t, stdout, "EPOCHS")
	require.NotContains(t, stdout, "\x1b")
}

func TestStatus_blackhole(t *testing.T) {
	d := statustest.New(t)
	d.Cluster.Region("b").Proxy.Blackhole()
	const timeout = 500 * time.Millisecond
	start := time.Now()
	code, stdout, stderr := runStatus(t, t.Context(), "--config", d.Path, "--json", "--timeout", timeout.String())
	require.Less(t, time.Since(start), timeout+5*time.Second) // a slow machine adds; a stall would add minutes
	require.Equal(t, exitFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Empty(t, stderr) // the report says it all
	rep := decodeReport(t, stdout)
	require.False(t, rep.OK)
	require.Equal(t, status.StatusUp, rep.Regions[0].Status)
	b := rep.Regions[1]
	require.Equal(t, status.StatusUnreachable, b.Status)
	require.Equal(t, status.ReasonTimeout, b.Store.Reason)
	require.Equal(t, status.ReasonTimeout, b.Health.Reason)
	for _, l := range rep.Links {
		require.Equal(t, status.LinkUnknown, l.Status)
		require.Equal(t, "b: timeout", l.Reason)
	}

	code, stdout, _ = runStatus(t, t.Context(), "--config", d.Path, "--timeout", timeout.String())
	require.Equal(t, exitFail, code)
	require.Contains(t, stdout, "NOT OK")
	require.Contains(t, stdout, "UNREACHABLE (timeout)")
	require.Contains(t, stdout, "b -> a  UNKNOWN")
}

func TestStatus_pending(t *testing.T) {
	d := statustest.New(t)
	d.Write(t, "a", "k1") // no replicator runs: b's watermark of a lags
	// The RPO is whole milliseconds: ask until the write is one old.
	for range 1000 {
		code, stdout, stderr := runStatus(t, t.Context(), "--config", d.Path, "--json", "--timeout", statustest.Timeout.String())
		require.Equal(t, exitFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		rep := decodeReport(t, stdout)
		ab := rep.Links[0]
		require.Equal(t, status.LinkOverTarget, ab.Status) // tier 1: any pending change is over
		require.Equal(t, int64(1), *ab.Pending)
		require.Equal(t, status.LinkOK, rep.Links[1].Status)
		if *ab.RPOMS > 0 {
			return
		}
	}
	t.Fatal("the RPO of a -> b stays 0 with a change pending")
}

func TestStatus_watch(t *testing.T) {
	d := statustest.New(t)
	for _, tc := range []struct {
		name  string
		args  []string
		sep   string // what ends (json) or separates (text) frames
		after int    // how many seps make three frames
	}{
		{"json", []string{"--json"}, "\n", 3},
		{"text", nil, "\n----\n\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// Interrupted (as by ctrl-C) once three frames are out.
			out := &frameCounter{sep: tc.sep, after: tc.after, stop: cancel}
			args := append([]string{"status", "--config", d.Path, "--watch", "--every", "1ms", "--timeout", statustest.Timeout.String()}, tc.args...)
			var stderr bytes.Buffer
			code := run(ctx, args, strings.NewReader(""), out, &stderr)
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.buf.String(), stderr.String())
			require.NotContains(t, out.buf.String(), "\x1b") // not a terminal: no escapes
			if tc.name == "json" {
				lines := strings.Split(strings.TrimSuffix(out.buf.String(), "\n"), "\n")
				require.GreaterOrEqual(t, len(lines), 3)
				for _, l := range lines {
					require.Equal(t, status.Version, decodeReport(t, l).Version)
				}
			} else {
				require.GreaterOrEqual(t, strings.Count(out.buf.String(), "xregion status at"), 3)
			}
		})
	}
}

// frameCounter is stdout for --watch: it calls stop once it has seen sep
// after times.
type frameCounter struct {
	buf   bytes.Buffer
	sep   string
	after int
	stop  func()
}

func (w *frameCounter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if strings.Count(w.buf.String(), w.sep) >= w.after {
		w.stop()
	}
	return len(p), nil
}

func TestStatus_help(t *testing.T) {
	code, stdout, stderr := runStatus(t, t.Context(), "--help")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"--json", "--watch", "--every", "--timeout", `"version": 1`, "_ms", "RFC 3339",
		"go doc github.com/xregion/xregion/cmd/xregion/internal/status", "Exit status"} {
		require.Contains(t, stdout, want)
	}
}

func TestStatus_badInput(t *testing.T) {
	dir := t.TempDir()
	oneRegion := filepath.Join(dir, "one.yaml")
	require.NoError(t, os.WriteFile(oneRegion, []byte("regions:\n  - {name: a, dsn: 'postgres://u:s3cret@db/x'}\ntables:\n  - {name: t, strategy: lww, tier: 1}\n"), 0o600))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, 1, []string{"xregion: config", "no such file"}},
		{"invalid file", []string{"--config", oneRegion}, 1, []string{"xregion: config", "1 named; a deployment has at least two"}},
		{"zero timeout", []string{"--config", oneRegion, "--timeout", "0s"}, 2, []string{"--timeout 0s; want a positive duration"}},
		{"negative every", []string{"--config", oneRegion, "--watch", "--every", "-1s"}, 2, []string{"--every -1s"}},
		{"bad duration", []string{"--timeout", "soon"}, 2, []string{"invalid argument", "Usage:"}},
		{"unknown flag", []string{"--jsn"}, 2, []string{"unknown flag: --jsn"}},
		{"an argument", []string{"a"}, 2, []string{"status takes no arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runStatus(t, t.Context(), tc.args...)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			require.Empty(t, stdout)
			for _, want := range tc.stderr {
				require.Contains(t, stderr, want)
			}
			require.NotContains(t, stderr, "s3cret")
		})
	}
}
