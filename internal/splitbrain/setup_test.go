package splitbrain_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/splitbrain"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// skews are the regions' clock offsets, in region order: the clocks disagree
// by up to 350 ms, within the HLC's maximum offset (500 ms), so every region
// accepts every other's timestamps, but real-time order and HLC order of
// nearby writes differ, which is what makes last-write-wins lose writes.
var skews = []time.Duration{200 * time.Millisecond, -150 * time.Millisecond, 60 * time.Millisecond}

// node is one region of a test: its PostgreSQL store (through the region's
// proxy) and the clock that stamps its writes.
type node struct {
	name  xregion.Region
	store *pgstore.Store
	clock *xregion.Clock
}

// newNodes starts n PostgreSQL regions named a, b, c, with skewed clocks.
func newNodes(t *testing.T, n int) []*node {
	t.Helper()
	names := []xregion.Region{"a", "b", "c"}[:n]
	var nodes []*node
	for i, n := range regiontest.Nodes(t, regiontest.WithRegions(names...)) {
		n.Wall.SetOffset(skews[i])
		nodes = append(nodes, &node{name: n.Name, store: n.Remote, clock: n.Clock})
	}
	return nodes
}

func storesOf(nodes []*node) []xregion.Store {
	out := make([]xregion.Store, len(nodes))
	for i, n := range nodes {
		out[i] = n.store
	}
	return out
}

// exchange heals the network between nodes: each gets every change the
// others made.
func exchange(ctx context.Context, t testing.TB, nodes ...*node) {
	t.Helper()
	require.NoError(t, splitbrain.Exchange(ctx, storesOf(nodes)...))
}

// base returns the version n holds for key in table, zero if none.
func (n *node) base(ctx context.Context, t testing.TB, table, key string) xregion.Version {
	t.Helper()
	rec, err := n.store.Get(ctx, table, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return xregion.Version{}
	}
	require.NoError(t, err)
	return rec.Version
}

// stamp gives rec a version from n's clock, after its Base, as a writer
// must (lww: HAZARD: writes stamped at or before their Base).
func (n *node) stamp(t testing.TB, rec xregion.Record) xregion.Record {
	t.Helper()
	require.NoError(t, n.clock.Update(rec.Base.Time))
	rec.Version = xregion.Version{Time: n.clock.Now(), Region: n.name}
	return rec
}

// apply writes rec locally and requires the store to keep it: a region's
// own write is stamped after everything it has applied, so it always wins
// there.
func (n *node) apply(ctx context.Context, t testing.TB, table string, rec xregion.Record) {
	t.Helper()
	res, err := n.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: table, Record: rec}}})
	require.NoError(t, err)
	require.Equal(t, xregion.Result{Applied: 1}, res, "local write of %s in %s", rec.Key, n.name)
}

// requireSameData requires every node to hold exactly the same records for
// keys of table, comparing one hash per node.
func requireSameData(ctx context.Context, t testing.TB, nodes []*node, table string, keys []string) {
	t.Helper()
	var first string
	for i, n := range nodes {
		h, err := splitbrain.Hash(ctx, n.store, table, keys)
		require.NoError(t, err)
		if i == 0 {
			first = h
			continue
		}
		require.Equal(t, first, h, "table %s: %s and %s hold different data", table, nodes[0].name, n.name)
	}
}

func keyNames(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return keys
}
