package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/pgstore"
)

// With three regions, the failover's staged-writes step has the other
// survivor catch up: a shipped its writes to b, not yet to c, and died;
// after the approval c holds them too.
func TestFailover_survivorsCatchUp(t *testing.T) {
	ctx := t.Context()
	c := regiontest.New(t, regiontest.WithRegions("a", "b", "c"))
	var b strings.Builder
	b.WriteString("regions:\n")
	for _, r := range c.Regions() {
		_, err := pgstore.New(ctx, r.Direct, r.Name)
		require.NoError(t, err)
		fmt.Fprintf(&b, "  - {name: %s, dsn: \"postgres://postgres@%s/%s\"}\n", r.Name, r.Proxy.Addr(), r.DBName)
	}
	b.WriteString("tables:\n  - {name: payments, strategy: lww, tier: 2}\napprovals: 1\n")
	path := filepath.Join(t.TempDir(), "xregion.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	open := func(name xregion.Region) *config.Opened {
		r, err := cfg.Region(name)
		require.NoError(t, err)
		o, err := cfg.Open(ctx, r)
		require.NoError(t, err)
		t.Cleanup(o.Close)
		return o
	}
	a, rb, rc := open("a"), open("b"), open("c")
	for i := range 20 {
		v, err := a.Clock.Stamp("a", xregion.Version{})
		require.NoError(t, err)
		_, err = a.Store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "payments",
			Record: xregion.Record{Key: fmt.Sprintf("pay-%02d", i), Value: []byte("1"), Version: v}}}})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		n, err := replicate.Ship(ctx, a.Store, rb.Store)
		require.NoError(t, err)
		_, err = rb.Store.Get(ctx, "payments", "pay-19")
		return n >= 0 && err == nil
	}, 30*time.Second, 50*time.Millisecond, "b never received a's writes")
	c.Region("a").Proxy.Blackhole()

	code, out, errOut := runCmd(t, "--config", path, "failover", "propose", "--from", "a", "--to", "b", "--by", "alice", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	id := proposalID.FindStringSubmatch(out)
	require.NotNil(t, id, out)
	code, out, errOut = runCmd(t, "--config", path, "failover", "approve", id[1], "--by", "alice", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	t.Log(out)
	requireInOrder(t, out, "2/5 resolve staged writes", "the survivors caught up on a's writes", "c: lacked 20 of a's writes", "lacks 0")
	for i := range 20 {
		_, err := rc.Store.Get(ctx, "payments", fmt.Sprintf("pay-%02d", i))
		require.NoError(t, err, "c lacks pay-%02d after the failover", i)
	}
}
