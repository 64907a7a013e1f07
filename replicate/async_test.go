package replicate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

func TestAsync_ActiveActiveDoesNotEcho(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	ab, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote}, replicate.PollInterval(time.Millisecond))
	require.NoError(t, err)
	defer ab.Close()
	ba, err := replicate.NewAsync(b.store, b.clock, []xregion.Store{a.remote}, replicate.PollInterval(time.Millisecond))
	require.NoError(t, err)
	defer ba.Close()

	for i := range 100 {
		require.NoError(t, ab.Write(t.Context(), order(key(i), "from a")))
		require.NoError(t, ba.Write(t.Context(), order(key(1000+i), "from b")))
	}
	eventuallyHas(t, b.store, key(99), "from a")
	eventuallyHas(t, a.store, key(1099), "from b")
	require.Eventually(t, func() bool {
		la, _ := ab.Lag(t.Context())
		lb, _ := ba.Lag(t.Context())
		return la[0].Pending == 0 && lb[0].Pending == 0
	}, 10*time.Second, 5*time.Millisecond)

	// Each region's changelog holds its own 100 writes and the peer's 100,
	// once each: nothing came back.
	for _, n := range ns {
		require.Len(t, allChanges(t, n.store, ""), 200, "changelog of %s", n.name)
	}
}
