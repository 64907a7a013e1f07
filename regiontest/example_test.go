package regiontest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// regionLoss is a region-loss test; in your code it is
// func TestRegionLoss(t *testing.T). (This package runs it from
// TestExample_RegionLoss.)
func regionLoss(t testing.TB) {
	c := regiontest.New(t) // regions "a" and "b": a database each, behind a fault proxy
	a, b := c.Region("a"), c.Region("b")
	for _, r := range c.Regions() {
		_, err := r.Direct.Exec(t.Context(), "CREATE TABLE kv (k text PRIMARY KEY, v text)")
		require.NoError(t, err)
	}

	b.Proxy.Blackhole() // region b goes dark: its packets vanish
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := b.Pool.Exec(ctx, "INSERT INTO kv VALUES ('order-1', 'paid')")
	require.ErrorIs(t, err, context.DeadlineExceeded) // no error from the network: only the deadline
	_, err = a.Pool.Exec(t.Context(), "INSERT INTO kv VALUES ('order-1', 'paid')")
	require.NoError(t, err, "region a carries on")

	b.Proxy.Heal() // b is back; the held INSERT may still reach it, as after a real partition
}

// Example shows a test that takes region b down while region a keeps
// writing. It needs a *testing.T, so it is compiled here but run as
// TestExample_RegionLoss.
func Example() {
	// func TestRegionLoss(t *testing.T) { regionLoss(t) }
}
