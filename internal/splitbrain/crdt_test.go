package splitbrain_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
	"github.com/xregion/xregion/store/pgstore"
)

// The CRDT tables of the tests, one per type, all settled by crdt.Resolver.
const (
	balances = "balances" // PN counters
	stock    = "stock"    // bounded counters
	tags     = "tags"     // OR-sets
)

// defineCRDT declares the CRDT tables on st, a store of nd's region.
func defineCRDT(t testing.TB, st xregion.Store, nd *node) {
	t.Helper()
	r, err := crdt.NewResolver(nd.name, nd.clock)
	require.NoError(t, err)
	for _, table := range []string{balances, stock, tags} {
		require.NoError(t, st.DefineTable(t.Context(), table, r))
	}
}

// newCRDTNodes starts n PostgreSQL regions with skewed clocks and the CRDT
// tables.
func newCRDTNodes(t *testing.T, n int) []*node {
	t.Helper()
	nodes := newNodes(t, n)
	for _, nd := range nodes {
		defineCRDT(t, nd.store, nd)
	}
	return nodes
}

// crdtWrite reads key's state in n (empty if none), lets mutate make a
// delta from it, and applies the delta as a local write, as a service
// would. mutate's error is returned; the write must succeed otherwise.
func crdtWrite[T crdt.State](ctx context.Context, t testing.TB, n *node, table, key string, empty T, mutate func(T) (crdt.State, error)) error {
	t.Helper()
	state, base := empty, xregion.Version{}
	rec, err := n.store.Get(ctx, table, key)
	switch {
	case err == nil:
		state, err = crdt.DecodeAs[T](rec.Value)
		require.NoError(t, err)
		base = rec.Version
	case !errors.Is(err, xregion.ErrNotFound):
		require.NoError(t, err)
	}
	delta, err := mutate(state)
	if err != nil {
		return err
	}
	w, err := crdt.Write(n.clock, n.name, key, base, delta)
	require.NoError(t, err)
	n.apply(ctx, t, table, w)
	return nil
}

func crdtState[T crdt.State](ctx context.Context, t testing.TB, n *node, table, key string) T {
	t.Helper()
	rec, err := n.store.Get(ctx, table, key)
	require.NoError(t, err)
	s, err := crdt.DecodeAs[T](rec.Value)
	require.NoError(t, err)
	return s
}

// TestSplitBrain_CRDT: two and three PostgreSQL regions with skewed clocks
// update CRDT records while fully split, then heal. Asserted: every
// region holds identical records (one hash per table and region), and
//
//   - PN counters hold exactly the decimal sum of every amount added and
//     subtracted in every region, to the last digit;
//   - a bounded counter never reads below zero in any region at any time:
//     after every local write and every batch a region applies from a peer;
//     the decrements a region's rights did not cover were refused, and the
//     final value is every increment minus every accepted decrement;
//   - an OR-set holds exactly the elements with an add that no remove
//     observed. With the regions fully split, a remove in a region
//     observes the adds every region had before the split and that region's
//     own adds since, which is what the naive reference computes.
//
// The regions exchange changelogs by hand (splitbrain.Ship), and in the
// "async replicator" cases through replicate.Async, each region shipping to
// the others' databases through their fault proxies, the split being
// every proxy blackholed. There the bounded counter is read in every region
// over and over while the replicators catch up, rather than after every
// batch.
func TestSplitBrain_CRDT(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d regions", n), func(t *testing.T) {
			nodes := newCRDTNodes(t, n)
			testCRDT(t, nodes, handNetwork{nodes})
		})
	}
	t.Run("3 regions, async replicator", func(t *testing.T) {
		nodes, net := newAsyncNodes(t, 3, func(st *pgstore.Store, nd *node) { defineCRDT(t, st, nd) })
		testCRDT(t, nodes, net)
	})
}

func testCRDT(t *testing.T, nodes []*node, net network) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(11, uint64(len(nodes))))
	accountsKeys := keyNames("account", 4)
	setKeys := keyNames("entity", 3)
	const bounded = "sku-1"
	elements := []string{"red", "green", "blue", "gold", "vip", "new"}

	empty, err := crdt.NewPNCounter(18, 2)
	require.NoError(t, err)
	total := map[string]*apd.Decimal{}
	for _, k := range accountsKeys {
		total[k] = new(apd.Decimal)
	}
	add := func(n *node, key string) {
		t.Helper()
		// Amounts with one or two decimal places, positive and negative.
		amount := apd.New(int64(rng.IntN(200_000)-100_000), -2)
		if rng.IntN(3) == 0 {
			amount = apd.New(int64(rng.IntN(2000)-1000), -1)
		}
		require.NoError(t, crdtWrite(ctx, t, n, balances, key, empty, func(c crdt.PNCounter) (crdt.State, error) { return c.Add(n.name, amount) }))
		_, err := apd.BaseContext.WithPrecision(40).Add(total[key], total[key], amount)
		require.NoError(t, err)
	}

	// The bounded counter: a stocks 100 and gives each other region 30 of
	// its rights, before the split.
	stocked, taken := uint64(100), uint64(0)
	// The value is unsigned, so "below zero" would show as a wrap past
	// everything ever stocked, or as a value the regions' rights do not add
	// up to (a value clamped at zero).
	requireNonNegative := func(n *node) {
		t.Helper()
		c := crdtState[crdt.BoundedCounter](ctx, t, n, stock, bounded)
		var rights uint64
		for _, r := range nodes {
			rights += c.Rights(r.name)
		}
		require.LessOrEqual(t, c.Value(), stocked, "%s reads the bounded counter below zero", n.name)
		require.Equal(t, rights, c.Value(), "%s: the value is not the sum of the regions' rights", n.name)
	}
	require.NoError(t, crdtWrite(ctx, t, nodes[0], stock, bounded, crdt.BoundedCounter{}, func(c crdt.BoundedCounter) (crdt.State, error) {
		return c.Inc(nodes[0].name, stocked)
	}))
	for _, n := range nodes[1:] {
		require.NoError(t, crdtWrite(ctx, t, nodes[0], stock, bounded, crdt.BoundedCounter{}, func(c crdt.BoundedCounter) (crdt.State, error) {
			return c.Transfer(nodes[0].name, n.name, 30)
		}))
	}

	// OR-sets: before the split a adds every element to every entity.
	type setEvent struct {
		region  xregion.Region
		remove  bool
		elem    string
		id      int   // an add's id
		observe []int // a remove's: the adds it observed
	}
	var setEvents []setEvent
	before := map[string][]int{} // per entity and element: the adds every region has
	mk := func(entity, elem string) string { return entity + "\x00" + elem }
	for _, e := range setKeys {
		for _, el := range elements {
			require.NoError(t, crdtWrite(ctx, t, nodes[0], tags, e, crdt.ORSet{}, func(s crdt.ORSet) (crdt.State, error) { return s.Add(nodes[0].name, el) }))
			setEvents = append(setEvents, setEvent{region: nodes[0].name, elem: mk(e, el), id: len(setEvents)})
			before[mk(e, el)] = append(before[mk(e, el)], len(setEvents)-1)
		}
	}
	for _, k := range accountsKeys {
		add(nodes[0], k)
	}
	net.sync(ctx, t)
	for _, n := range nodes {
		requireNonNegative(n)
	}

	// The split: nothing ships. Every region works on everything.
	net.split(t)
	own := map[xregion.Region]map[string][]int{} // adds a region made since the split
	for _, n := range nodes {
		own[n.name] = map[string][]int{}
	}
	for range 6 {
		for _, n := range nodes {
			for _, k := range accountsKeys {
				if rng.IntN(2) == 0 {
					add(n, k)
				}
			}
			// Spend stock until the region's rights run out; sometimes
			// restock.
			want := uint64(1 + rng.IntN(15))
			err := crdtWrite(ctx, t, n, stock, bounded, crdt.BoundedCounter{}, func(c crdt.BoundedCounter) (crdt.State, error) { return c.Dec(n.name, want) })
			if err == nil {
				taken += want
			} else {
				var ir *crdt.InsufficientRightsError
				require.ErrorAs(t, err, &ir, "%s", n.name)
				require.Less(t, ir.Rights, want)
			}
			requireNonNegative(n)
			if rng.IntN(5) == 0 {
				require.NoError(t, crdtWrite(ctx, t, n, stock, bounded, crdt.BoundedCounter{}, func(c crdt.BoundedCounter) (crdt.State, error) { return c.Inc(n.name, 5) }))
				stocked += 5
			}

			e, el := setKeys[rng.IntN(len(setKeys))], elements[rng.IntN(len(elements))]
			if rng.IntN(2) == 0 {
				require.NoError(t, crdtWrite(ctx, t, n, tags, e, crdt.ORSet{}, func(s crdt.ORSet) (crdt.State, error) { return s.Add(n.name, el) }))
				setEvents = append(setEvents, setEvent{region: n.name, elem: mk(e, el), id: len(setEvents)})
				own[n.name][mk(e, el)] = append(own[n.name][mk(e, el)], len(setEvents)-1)
			} else {
				require.NoError(t, crdtWrite(ctx, t, n, tags, e, crdt.ORSet{}, func(s crdt.ORSet) (crdt.State, error) { return s.Remove(el), nil }))
				observed := append(slices.Clone(before[mk(e, el)]), own[n.name][mk(e, el)]...)
				setEvents = append(setEvents, setEvent{region: n.name, remove: true, elem: mk(e, el), observe: observed})
			}
		}
	}

	// Heal, reading the bounded counter in the regions as changes reach
	// them.
	net.heal(ctx, t, requireNonNegative)

	for _, table := range []string{balances, stock, tags} {
		requireSameData(ctx, t, nodes, table, append(append(append([]string{}, accountsKeys...), setKeys...), bounded))
	}
	for _, n := range nodes {
		for _, k := range accountsKeys {
			got := crdtState[crdt.PNCounter](ctx, t, n, balances, k).Value()
			require.Zero(t, got.Cmp(total[k]), "%s %s holds %s, the amounts sum to %s", n.name, k, got, total[k])
		}
		c := crdtState[crdt.BoundedCounter](ctx, t, n, stock, bounded)
		require.Equal(t, stocked-taken, c.Value(), "%s: stock", n.name)

		for _, e := range setKeys {
			set := crdtState[crdt.ORSet](ctx, t, n, tags, e)
			var want []string
			for _, el := range elements {
				removed := map[int]bool{}
				for _, ev := range setEvents {
					if ev.remove && ev.elem == mk(e, el) {
						for _, id := range ev.observe {
							removed[id] = true
						}
					}
				}
				if slices.ContainsFunc(setEvents, func(ev setEvent) bool { return !ev.remove && ev.elem == mk(e, el) && !removed[ev.id] }) {
					want = append(want, el)
				}
			}
			slices.Sort(want)
			require.Equal(t, want, set.Elements(), "%s %s", n.name, e)
		}
	}
	t.Logf("stock %d, taken %d; %d set events", stocked, taken, len(setEvents))
}
