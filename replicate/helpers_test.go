package replicate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
)

// node is one region as a test sees it: its store and clock, and the store
// of it that peers use (through the fault proxy for PostgreSQL regions).
type node struct {
	name   xregion.Region
	store  xregion.Store // local access
	remote xregion.Store // how peers reach it
	clock  *xregion.Clock
	pg     *regiontest.Region // nil for memstore regions
}

func define(t testing.TB, st xregion.Store, clock *xregion.Clock, tables ...string) {
	t.Helper()
	r, err := lww.New(clock)
	require.NoError(t, err)
	for _, tb := range tables {
		require.NoError(t, st.DefineTable(context.Background(), tb, r))
	}
}

func memNodes(t testing.TB, names ...xregion.Region) []*node {
	var out []*node
	for _, n := range names {
		st, err := memstore.New(n)
		require.NoError(t, err)
		clock, err := xregion.NewClock(xregion.SystemClock{})
		require.NoError(t, err)
		define(t, st, clock, "orders")
		out = append(out, &node{name: n, store: st, remote: st, clock: clock})
	}
	return out
}

func pgNodes(t testing.TB, names ...xregion.Region) []*node {
	var out []*node
	for _, n := range regiontest.Nodes(t, regiontest.WithRegions(names...)) {
		define(t, n.Local, n.Clock, "orders")
		define(t, n.Remote, n.Clock, "orders")
		out = append(out, &node{name: n.Name, store: n.Local, remote: n.Remote, clock: n.Clock, pg: n.Region})
	}
	return out
}

func order(key string, value string) xregion.Write {
	return xregion.Write{Table: "orders", Record: xregion.Record{Key: key, Value: []byte(value)}}
}

// eventuallyHas waits until st holds key with value.
func eventuallyHas(t testing.TB, st xregion.Store, key, value string) {
	t.Helper()
	require.Eventually(t, func() bool {
		r, err := st.Get(context.Background(), "orders", key)
		return err == nil && string(r.Value) == value
	}, 20*time.Second, 5*time.Millisecond, "%s never held %s=%s", st.Region(), key, value)
}

// allChanges reads st's whole changelog, waiting out open transactions.
func allChanges(t testing.TB, st xregion.Store, origin xregion.Region) []xregion.Change {
	t.Helper()
	var out []xregion.Change
	after := xregion.Position{}
	for {
		cs, err := st.Changes(context.Background(), xregion.ChangeQuery{After: after, Origin: origin, Limit: 10_000})
		require.NoError(t, err)
		if len(cs) == 0 {
			return out
		}
		out = append(out, cs...)
		after = cs[len(cs)-1].Pos
	}
}

func key(i int) string { return fmt.Sprintf("order-%06d", i) }

// peerStore passes a peer's Store and its Stager on: a fault injector
// embeds it and overrides what it breaks.
type peerStore struct{ xregion.Store }

func (p peerStore) Stage(ctx context.Context, from xregion.Region, ws []xregion.Write) error {
	return p.Store.(xregion.Stager).Stage(ctx, from, ws)
}

func (p peerStore) Withdraw(ctx context.Context, from xregion.Region, ws []xregion.Write) error {
	return p.Store.(xregion.Stager).Withdraw(ctx, from, ws)
}

func (p peerStore) Holding(ctx context.Context, from xregion.Region, ws []xregion.Write) ([]bool, error) {
	return p.Store.(xregion.Stager).Holding(ctx, from, ws)
}

func (p peerStore) ApplyStaged(ctx context.Context) (xregion.Result, error) {
	return p.Store.(xregion.Stager).ApplyStaged(ctx)
}

func (p peerStore) Staged(ctx context.Context) (int64, error) {
	return p.Store.(xregion.Stager).Staged(ctx)
}
