package splitbrain_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/pgstore"
)

// network is how the regions of a test exchange their changes, and how the
// test cuts them apart.
type network interface {
	// sync returns once every region holds every change another made.
	sync(ctx context.Context, t testing.TB)
	// split cuts every region off from every other.
	split(t testing.TB)
	// heal reconnects the regions and returns once every region holds every
	// change another made, calling check on a region whenever changes may
	// have reached it.
	heal(ctx context.Context, t testing.TB, check func(*node))
}

// handNetwork ships changelogs by hand (replicate.Ship): a split is a
// time during which the test does not ship.
type handNetwork struct{ nodes []*node }

func (h handNetwork) sync(ctx context.Context, t testing.TB) { exchange(ctx, t, h.nodes...) }

func (handNetwork) split(testing.TB) {}

// heal ships pair by pair, checking the receiver after every shipment.
func (h handNetwork) heal(ctx context.Context, t testing.TB, check func(*node)) {
	t.Helper()
	for {
		shipped := 0
		for _, from := range h.nodes {
			for _, to := range h.nodes {
				if from == to {
					continue
				}
				n, err := replicate.Ship(ctx, from.store, to.store)
				require.NoError(t, err)
				shipped += n
				check(to)
			}
		}
		if shipped == 0 {
			break
		}
	}
	exchange(ctx, t, h.nodes...) // anything an open transaction hid above
	for _, n := range h.nodes {
		check(n)
	}
}

// asyncNetwork is the asynchronous replicator (replicate.Async) running in
// every region, shipping to every other region's database through that
// region's fault proxy; a split is every proxy blackholed. Each region
// writes to its own database directly, so it keeps writing while cut off.
type asyncNetwork struct {
	nodes   []*node
	regions []*regiontest.Region
	// atSplit is, per receiving and sending region, the receiver's
	// watermark of the sender when the split began: nothing may cross
	// it until the heal.
	atSplit map[[2]xregion.Region]xregion.Position
}

// newAsyncNodes starts n PostgreSQL regions with skewed clocks, each with
// its own store (direct) and the store its peers reach it by (through its
// proxy), calls define on both, and starts the replicators.
func newAsyncNodes(t *testing.T, n int, define func(st *pgstore.Store, nd *node)) ([]*node, *asyncNetwork) {
	t.Helper()
	names := []xregion.Region{"a", "b", "c"}[:n]
	net := &asyncNetwork{atSplit: map[[2]xregion.Region]xregion.Position{}}
	var remotes []xregion.Store
	for i, n := range regiontest.Nodes(t, regiontest.WithRegions(names...)) {
		n.Wall.SetOffset(skews[i])
		nd := &node{name: n.Name, store: n.Local, clock: n.Clock}
		define(n.Local, nd)
		define(n.Remote, nd)
		net.nodes = append(net.nodes, nd)
		net.regions = append(net.regions, n.Region)
		remotes = append(remotes, n.Remote)
	}
	for i, nd := range net.nodes {
		var peers []xregion.Store
		for j, r := range remotes {
			if j != i {
				peers = append(peers, r)
			}
		}
		a, err := replicate.NewAsync(nd.store, nd.clock, peers,
			replicate.WithPollInterval(5*time.Millisecond), replicate.WithHeartbeat(50*time.Millisecond), replicate.WithMaxBackoff(50*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, a.Close()) })
	}
	// Cleanups run last first: heal before the replicators close, so that
	// none waits on a blackholed connection.
	t.Cleanup(func() {
		for _, r := range net.regions {
			r.Proxy.Heal()
		}
	})
	return net.nodes, net
}

func (a *asyncNetwork) sync(ctx context.Context, t testing.TB) {
	t.Helper()
	a.wait(ctx, t, func(*node) {})
}

func (a *asyncNetwork) split(t testing.TB) {
	t.Helper()
	for _, r := range a.regions {
		r.Proxy.Blackhole()
	}
	a.watermarks(t, func(to, from *node, wm xregion.Position) { a.atSplit[[2]xregion.Region{to.name, from.name}] = wm })
}

// heal first requires that nothing crossed the split: the split was
// real.
func (a *asyncNetwork) heal(ctx context.Context, t testing.TB, check func(*node)) {
	t.Helper()
	a.watermarks(t, func(to, from *node, wm xregion.Position) {
		require.Equal(t, a.atSplit[[2]xregion.Region{to.name, from.name}], wm, "%s applied changes of %s during the split", to.name, from.name)
	})
	for _, r := range a.regions {
		r.Proxy.Heal()
	}
	a.wait(ctx, t, check)
}

// watermarks calls f with every region's watermark of every other, read
// from the receiving region's own database.
func (a *asyncNetwork) watermarks(t testing.TB, f func(to, from *node, wm xregion.Position)) {
	t.Helper()
	for _, to := range a.nodes {
		for _, from := range a.nodes {
			if from != to {
				wm, err := to.store.Watermark(t.Context(), from.name)
				require.NoError(t, err)
				f(to, from, wm)
			}
		}
	}
}

// wait checks every region, over and over, until every region's watermark
// of every other is past all of that region's changes (judged from the
// regions' own databases, not from what the replicators report).
func (a *asyncNetwork) wait(ctx context.Context, t testing.TB, check func(*node)) {
	t.Helper()
	for {
		for _, n := range a.nodes {
			check(n)
		}
		behind := false
		for _, from := range a.nodes {
			for _, to := range a.nodes {
				if from == to {
					continue
				}
				wm, err := to.store.Watermark(ctx, from.name)
				require.NoError(t, err)
				bl, err := from.store.Backlog(ctx, wm, from.name)
				require.NoError(t, err)
				behind = behind || bl.Changes > 0
			}
		}
		if !behind {
			return
		}
		select {
		case <-ctx.Done():
			require.NoError(t, ctx.Err(), "the replicators did not converge")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
