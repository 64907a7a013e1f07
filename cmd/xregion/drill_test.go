package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// quick are flags that make a drill take a few seconds.
var quick = []string{"--probe-every", "200ms", "--warmup", "1s", "--outage", "1s"}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDrill_Embedded(t *testing.T) {
	t.Parallel()
	page := filepath.Join(t.TempDir(), "drill.html")
	code, out, errOut := runCmd(t, append([]string{"drill", "--report", page}, quick...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "PASS: every target met")
	require.Contains(t, out, "tier1 (payments)   RPO ")
	require.NotContains(t, out, "FAIL")
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	require.Contains(t, string(html), `data-kind="kill"`)
	require.Contains(t, string(html), `data-kind="failback"`)
}

func TestDrill_Config(t *testing.T) {
	t.Parallel()
	c := regiontest.New(t, regiontest.WithRegions("a", "b"))
	cfg := filepath.Join(t.TempDir(), "xregion.yaml")
	var yaml strings.Builder
	yaml.WriteString("regions:\n")
	for _, r := range c.Regions() {
		u, err := url.Parse(regiontest.DSN())
		require.NoError(t, err)
		u.Path = "/" + r.DBName
		fmt.Fprintf(&yaml, "  - {name: %s, dsn: %q}\n", r.Name, u.String())
	}
	yaml.WriteString("tables:\n  - {name: payments, strategy: lww, tier: 1}\n")
	require.NoError(t, os.WriteFile(cfg, []byte(yaml.String()), 0o600))

	code, out, errOut := runCmd(t, append([]string{"drill", "--config", cfg}, quick...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "on PostgreSQL")
	require.Contains(t, out, "PASS: every target met")
}

func TestDrill_BadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		code int
		says string
	}{
		"probe too often": {[]string{"drill", "--probe-every", "1ms"}, 1, "invalid drill probe interval"},
		"no config file":  {[]string{"drill", "--config", "/nonexistent/xregion.yaml"}, 1, "no such file"},
		"unknown flag":    {[]string{"drill", "--probe-evry", "1s"}, 2, "unknown flag"},
		"an argument":     {[]string{"drill", "now"}, 1, "unknown command"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCmd(t, tc.args...)
			require.Equal(t, tc.code, code, errOut)
			require.Contains(t, errOut, tc.says)
		})
	}
}

func TestDrill_Help(t *testing.T) {
	code, out, _ := runCmd(t, "drill", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "rehearses a region loss")
	require.Contains(t, out, "--probe-every")
	require.Contains(t, out, "exits with status 3")
}
