package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// A config whose DSNs name databases with no xregion store (a typo in a
// database name, a region never set up) is refused, not set up afresh.
func TestCommands_RefuseDatabaseWithoutStore(t *testing.T) {
	c := regiontest.New(t, regiontest.WithRegions("a", "b"))
	var b strings.Builder
	b.WriteString("regions:\n")
	for _, r := range c.Regions() {
		fmt.Fprintf(&b, "  - {name: %s, dsn: \"postgres://postgres@%s/%s\"}\n", r.Name, r.Proxy.Addr(), r.DBName)
	}
	b.WriteString("tables:\n  - {name: payments, strategy: lww, tier: 2}\n")
	path := filepath.Join(t.TempDir(), "xregion.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))

	code, out, errOut := runCmd(t, "--config", path, "failback", "--region", "a", "--survivor", "b", "--dry-run")
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, errOut, "holds no xregion store")
	var exists bool
	require.NoError(t, c.Region("a").Direct.QueryRow(t.Context(), "SELECT to_regnamespace('xregion') IS NOT NULL").Scan(&exists))
	require.False(t, exists, "the command created nothing")
}
