package partition_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/regiontest"
)

// newPGRegions returns PostgreSQL regions (through regiontest's proxies)
// with Routers for n partitions, their clocks skewed within the maximum
// offset.
func newPGRegions(t *testing.T, n int, names ...xregion.Region) []*region {
	t.Helper()
	skews := []time.Duration{150 * time.Millisecond, -150 * time.Millisecond, 40 * time.Millisecond}
	var out []*region
	for i, nd := range regiontest.Nodes(t, regiontest.WithRegions(names...)) {
		nd.Wall.SetOffset(skews[i%len(skews)])
		out = append(out, setupRegion(t, nd.Remote, nd.Clock, n))
	}
	return out
}

// TestRouter_Handover_PostgreSQL is TestRouter_Handover on PostgreSQL
// regions: a hands every partition to b while writes are in flight to b and
// c lags; b has everything when Handover returns, nothing is fenced
// anywhere, and all three converge.
func TestRouter_Handover_PostgreSQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rs := newPGRegions(t, 8, "a", "b", "c")
	a, b, c := rs[0], rs[1], rs[2]
	_, err := a.router.Bootstrap(ctx, home(a.name))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b, c))

	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("customer-%d", i)
		a.mustWrite(ctx, t, keys[i], "a1")
	}
	grants := handover(ctx, t, a, b, all(8))
	require.Len(t, grants, 8)
	for _, k := range keys {
		require.Equal(t, "a1", b.value(ctx, t, k), "RPO 0")
		require.Equal(t, "", c.value(ctx, t, k), "c has not been shipped anything yet")
	}
	_, err = a.router.Stamp(xregion.Record{Key: keys[0]})
	require.Equal(t, b.name, unwrapAs[*partition.NotHomeError](t, err).Home)

	for _, k := range keys[:10] {
		b.mustWrite(ctx, t, k, "b1")
	}
	require.NoError(t, exchange(ctx, b, c)) // c: epoch 2 before a's epoch-1 writes and the grant
	require.NoError(t, exchange(ctx, a, b, c))

	for _, r := range rs {
		q, _, err := r.router.Quarantine(ctx, 0, 100)
		require.NoError(t, err)
		require.Empty(t, q, "%s fenced a write of the handover", r.name)
		require.Equal(t, b.name, r.router.Owner(3).Home)
		for i, k := range keys {
			want := map[bool]string{true: "b1", false: "a1"}[i < 10]
			require.Equal(t, want, r.value(ctx, t, k), "%s %s", r.name, k)
		}
	}
}
