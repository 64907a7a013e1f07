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
	c := regiontest.New(t) // regions "a" and "b", each its own database behind a proxy
	a, b := c.Region("a"), c.Region("b")
	ctx := context.Background()
	for _, r := range c.Regions() {
		_, err := r.Direct.Exec(ctx, "CREATE TABLE kv (k text PRIMARY KEY, v text)")
		require.NoError(t, err)
	}
	_, err := a.Pool.Exec(ctx, "INSERT INTO kv VALUES ('order-1', 'paid')")
	require.NoError(t, err)

	b.Proxy.Blackhole() // region b goes dark: its packets vanish
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = b.Pool.Exec(short, "INSERT INTO kv VALUES ('order-1', 'paid')")
	require.ErrorIs(t, err, context.DeadlineExceeded) // no error from the network: only the deadline

	b.Proxy.Heal() // b is back
	_, err = b.Pool.Exec(ctx, "INSERT INTO kv VALUES ('order-2', 'paid')")
	require.NoError(t, err)
}

// Example shows a test that takes region b down while region a keeps
// writing. It needs a *testing.T, so it is compiled here but run as
// TestExample_RegionLoss.
func Example() {
	// func TestRegionLoss(t *testing.T) { regionLoss(t) }
}
