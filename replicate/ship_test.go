package replicate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// Ship brings a peer up to date once, applies nothing twice, and carries
// only the changes made in the region it ships from.
func TestShip(t *testing.T) {
	ns := memNodes(t, "a", "b", "c")
	a, b, c := ns[0], ns[1], ns[2]
	write := func(n *node, key string) {
		v, err := n.clock.Stamp(n.name, xregion.Version{})
		require.NoError(t, err)
		w := order(key, string(n.name))
		w.Record.Version = v
		_, err = n.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{w}})
		require.NoError(t, err)
	}
	for i := range 2500 { // more than a batch
		write(a, key(i))
	}
	n, err := replicate.Ship(t.Context(), a.store, b.store)
	require.NoError(t, err)
	require.Equal(t, 2500, n)
	n, err = replicate.Ship(t.Context(), a.store, b.store)
	require.NoError(t, err)
	require.Zero(t, n, "nothing twice")
	require.Len(t, allChanges(t, b.store, "a"), 2500)

	// c's own write reaches b; what c received from a does not go on.
	n, err = replicate.Ship(t.Context(), a.store, c.store)
	require.NoError(t, err)
	require.Equal(t, 2500, n)
	write(c, "from-c")
	n, err = replicate.Ship(t.Context(), c.store, b.store)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only c's own write")
	eventuallyHas(t, b.store, "from-c", "c")
}
