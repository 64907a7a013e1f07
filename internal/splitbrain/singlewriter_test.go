package splitbrain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/splitbrain"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
)

const (
	accounts   = "accounts"
	partitions = 8
)

// swNode is a region of a single-writer test: a node, its Router, and the
// accounts table guarded by it over last-write-wins.
type swNode struct {
	*node
	router *partition.Router
}

func newSWNodes(t *testing.T, n int) []*swNode {
	t.Helper()
	var out []*swNode
	for _, nd := range newNodes(t, n) {
		router, err := partition.New(t.Context(), nd.store, nd.clock, partitions, partition.WithPollInterval(5*time.Millisecond))
		require.NoError(t, err)
		inner, err := lww.New(nd.clock)
		require.NoError(t, err)
		guard, err := partition.NewGuard(router, inner)
		require.NoError(t, err)
		require.NoError(t, nd.store.DefineTable(t.Context(), accounts, guard))
		out = append(out, &swNode{node: nd, router: router})
	}
	return out
}

// write makes a read-modify-write of key through the Router, as a service
// would, and returns the record applied or Stamp's refusal.
func (n *swNode) write(ctx context.Context, t testing.TB, key, value string) (xregion.Record, error) {
	t.Helper()
	rec, err := n.router.Stamp(xregion.Record{Key: key, Value: []byte(value), Base: n.base(ctx, t, accounts, key)})
	if err != nil {
		return rec, err
	}
	rec = n.stamp(t, rec)
	n.apply(ctx, t, accounts, rec)
	return rec, nil
}

func nodesOf(sw []*swNode, idx ...int) []*node {
	var out []*node
	for i, n := range sw {
		if idx == nil || slices.Contains(idx, i) {
			out = append(out, n.node)
		}
	}
	return out
}

// TestSplitBrain_SingleWriter: region a is the home of every partition. The
// regions split; on the far side an operator fails a over (with two
// approvals; in one case two operators do, in two regions); both sides' homes
// then write the same keys until the split heals. The regions then hold
// different data (checked: fencing cannot undo what the old home's side
// accepted before it heard of the failover), and failback follows: the new
// home reasserts every key any region quarantined. Asserted, in every case,
// on PostgreSQL regions with skewed clocks:
//
//  1. Convergence: every region holds the same ownership map and the same
//     data (one hash per table and region).
//  2. Zero stale writes accepted anywhere: reading each region's changelog
//     in order, no record was applied under an epoch older than the
//     ownership the region had applied before it (or of that epoch but
//     from another home), and no region holds a stale write at the end.
//  3. Each quarantined write is listed: the union of the regions'
//     quarantines is exactly the set of writes the old home (and the
//     failover that lost the tie) made that the new home did not have when
//     it took over, nothing else; and the new home's own quarantine lists
//     every one of them.
//  4. Refusals are typed: the old home's writes after the heal fail with a
//     *NotHomeError naming the new home, and a record stamped under the old
//     epoch fails Check with a *StaleEpochError naming the partition, the
//     current epoch and the record's.
func TestSplitBrain_SingleWriter(t *testing.T) {
	tests := []struct {
		name      string
		regions   int
		sides     [][]int // which regions see each other during the split
		failovers []int   // regions whose operators fail every partition over
	}{
		{name: "2 regions", regions: 2, sides: [][]int{{0}, {1}}, failovers: []int{1}},
		{name: "3 regions, old home alone", regions: 3, sides: [][]int{{0}, {1, 2}}, failovers: []int{1}},
		{name: "3 regions, a bystander on the old home's side", regions: 3, sides: [][]int{{0, 2}, {1}}, failovers: []int{1}},
		{name: "3 regions, two failovers", regions: 3, sides: [][]int{{0}, {1}, {2}}, failovers: []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			nodes := newSWNodes(t, tt.regions)
			everyone := nodesOf(nodes)
			a := nodes[0]
			_, err := a.router.Bootstrap(ctx, func(int) xregion.Region { return a.name })
			require.NoError(t, err)
			exchange(ctx, t, everyone...)

			keys := keyNames("customer", 16)
			var history []xregion.Record
			must := func(n *swNode, key, value string) {
				t.Helper()
				rec, err := n.write(ctx, t, key, value)
				require.NoError(t, err, "write %s in %s", key, n.name)
				history = append(history, rec)
			}

			// Before the split: a writes every key, everyone has it.
			for _, k := range keys {
				must(a, k, "v0")
			}
			exchange(ctx, t, everyone...)
			settled := len(history)
			// Two more writes a makes that never leave it before the split
			// (RPO > 0): the new home will not have them.
			for _, k := range keys[:2] {
				must(a, k, "unshipped")
			}

			// The split, and the failovers on the far side.
			for _, i := range tt.failovers {
				_, err := nodes[i].router.Failover(ctx, allPartitions(), partition.Approval{By: "alice"})
				require.Equal(t, &partition.ApprovalError{Need: partition.DefaultApprovals, Got: 1}, asError[*partition.ApprovalError](t, err))
				grants, err := nodes[i].router.Failover(ctx, allPartitions(), partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
				require.NoError(t, err)
				require.Len(t, grants, partitions)
			}
			for _, side := range tt.sides {
				exchange(ctx, t, nodesOf(nodes, side...)...)
			}

			// Both sides write, each through the home it knows; regions
			// that are not home are refused and route to it.
			for round := range 2 {
				for s, side := range tt.sides {
					home := sideHome(t, nodes, side)
					for _, i := range side {
						if nodes[i] == home {
							continue
						}
						_, err := nodes[i].write(ctx, t, keys[2], "elsewhere")
						h, ok := partition.HomeOf(err)
						require.True(t, ok, "%s wrote although %s is home: %v", nodes[i].name, home.name, err)
						require.Equal(t, home.name, h)
					}
					for _, k := range keys[2:10] { // every side writes these
						must(home, k, fmt.Sprintf("%s-r%d", home.name, round))
					}
					for _, k := range keys[10+2*s : 12+2*s] { // only this side writes these
						must(home, k, fmt.Sprintf("%s-only-r%d", home.name, round))
					}
					must(home, fmt.Sprintf("new-%s-%d", home.name, round), "created")
					exchange(ctx, t, nodesOf(nodes, side...)...)
				}
			}

			// Heal.
			exchange(ctx, t, everyone...)
			final := nodes[0].router.Owners()
			for _, n := range nodes {
				require.Equal(t, final, n.router.Owners(), "%s's map", n.name)
			}
			winner := nodeNamed(t, nodes, final[0].Home)
			epoch := final[0].Epoch
			for _, o := range final {
				require.Equal(t, winner.name, o.Home)
				require.Equal(t, epoch, o.Epoch)
			}
			require.Contains(t, tt.failovers, slices.Index(nodes, winner))

			// 4. Typed refusals in the old home.
			_, err = a.write(ctx, t, keys[3], "after the heal")
			require.Equal(t, &partition.NotHomeError{Key: keys[3], Partition: a.router.Partition(keys[3]), Region: a.name, Home: winner.name, Epoch: epoch},
				asError[*partition.NotHomeError](t, err))
			old := history[len(history)-1]
			for _, w := range slices.Backward(history) {
				if w.Version.Region == a.name {
					old = w
					break
				}
			}
			err = a.router.Check(old)
			require.Equal(t, &partition.StaleEpochError{Key: old.Key, Partition: a.router.Partition(old.Key), Current: epoch, Got: 1},
				asError[*partition.StaleEpochError](t, err))
			require.Contains(t, err.Error(), fmt.Sprintf("partition %d", a.router.Partition(old.Key)))

			// The writes that must be quarantined: every write after the
			// settled point that is stale under the final map.
			stale := map[xregion.Version]xregion.Record{}
			for _, w := range history[settled:] {
				if w.Epoch < epoch || w.Version.Region != winner.name {
					stale[w.Version] = w
				}
			}
			require.NotEmpty(t, stale)
			allKeys := slices.Clone(keys)
			for _, w := range history {
				if !slices.Contains(allKeys, w.Key) {
					allKeys = append(allKeys, w.Key)
				}
			}
			// Fencing alone cannot take back what the old home's side
			// accepted before it heard of the failover: in every case here
			// some region still holds such writes.
			require.False(t, sameData(ctx, t, everyone, accounts, allKeys), "the regions converged before failback")

			// Failback: the new home reasserts every key any region
			// quarantined.
			var quarantined []xregion.LostUpdate
			for _, n := range nodes {
				q, _, err := n.router.Quarantine(ctx, 0, xregion.MaxChangeLimit)
				require.NoError(t, err)
				quarantined = append(quarantined, q...)
			}
			var fencedKeys []string
			for _, l := range quarantined {
				fencedKeys = append(fencedKeys, l.Lost.Key)
			}
			slices.Sort(fencedKeys)
			fencedKeys = slices.Compact(fencedKeys)
			written, err := winner.router.Reassert(ctx, accounts, fencedKeys...)
			require.NoError(t, err)
			require.Equal(t, len(fencedKeys), written)
			exchange(ctx, t, everyone...)

			// 1. Convergence.
			requireSameData(ctx, t, everyone, accounts, allKeys)
			var ownerKeys []string
			for p := range partitions {
				ownerKeys = append(ownerKeys, partition.OwnershipKey(p))
			}
			requireSameData(ctx, t, everyone, partition.DefaultTable, ownerKeys)
			for _, k := range keys[2:10] {
				require.Equal(t, fmt.Sprintf("%s-r1", winner.name), value(ctx, t, a.node, k), "the new home's writes survive")
			}

			// 2. Zero stale writes accepted, then or now.
			for _, n := range nodes {
				requireNoStaleAccepted(ctx, t, n)
				for _, k := range allKeys {
					rec, err := n.store.Get(ctx, accounts, k)
					require.NoError(t, err)
					_, isStale := stale[rec.Version]
					require.False(t, isStale, "%s still holds the stale write %v of %s", n.name, rec.Version, k)
				}
			}

			// 3. The quarantine lists exactly the stale writes.
			listed := map[xregion.Version]bool{}
			for _, n := range nodes {
				ledger, err := splitbrain.Ledger(ctx, n.store)
				require.NoError(t, err)
				for _, l := range ledger {
					if l.Table == partition.DefaultTable {
						// Only two grants of one epoch conflict.
						require.Len(t, tt.failovers, 2, "%s: ownership conflict %v", n.name, l)
						require.Equal(t, xregion.LostConcurrent, l.Reason)
						continue
					}
					require.Equal(t, xregion.LostFenced, l.Reason, "%s: %v", n.name, l)
					w, ok := stale[l.Lost.Version]
					require.True(t, ok, "%s quarantined %s %v, which is not a stale write", n.name, l.Lost.Key, l.Lost.Version)
					require.True(t, w.Equal(l.Lost))
					listed[l.Lost.Version] = true
				}
			}
			for v, w := range stale {
				require.True(t, listed[v], "stale write %s %v is not quarantined anywhere", w.Key, v)
			}
			q, _, err := winner.router.Quarantine(ctx, 0, xregion.MaxChangeLimit)
			require.NoError(t, err)
			require.Len(t, q, len(stale), "the new home quarantines every stale write as it arrives")
		})
	}
}

// requireNoStaleAccepted reads n's changelog in order and checks each
// guarded record against the ownership map as n had applied it up to then.
func requireNoStaleAccepted(ctx context.Context, t testing.TB, n *swNode) {
	t.Helper()
	changes, err := splitbrain.Changelog(ctx, n.store)
	require.NoError(t, err)
	type grant struct {
		epoch uint64
		home  xregion.Region
	}
	known := map[int]grant{}
	for _, c := range changes {
		switch c.Table {
		case partition.DefaultTable:
			var v struct {
				Home string `json:"home"`
			}
			require.NoError(t, json.Unmarshal(c.Record.Value, &v))
			for p := range partitions {
				if partition.OwnershipKey(p) == c.Record.Key {
					known[p] = grant{c.Record.Epoch, xregion.Region(v.Home)}
				}
			}
		case accounts:
			g := known[n.router.Partition(c.Record.Key)]
			ok := c.Record.Epoch > g.epoch || c.Record.Epoch == g.epoch && c.Record.Version.Region == g.home
			require.True(t, ok, "%s applied %s %v of epoch %d from %s at %s, after learning epoch %d homed in %s",
				n.name, c.Record.Key, c.Record.Version, c.Record.Epoch, c.Record.Version.Region, c.Pos, g.epoch, g.home)
		}
	}
}

// sideHome returns the region the regions of side take for the home (all
// partitions have one), requiring that they agree and that it is among them.
func sideHome(t testing.TB, nodes []*swNode, side []int) *swNode {
	t.Helper()
	h := nodes[side[0]].router.Owner(0).Home
	for _, i := range side {
		for _, o := range nodes[i].router.Owners() {
			require.Equal(t, h, o.Home, "%s disagrees with its side", nodes[i].name)
		}
	}
	home := nodeNamed(t, nodes, h)
	require.Contains(t, side, slices.Index(nodes, home), "the home %s is not on this side", h)
	return home
}

func nodeNamed(t testing.TB, nodes []*swNode, name xregion.Region) *swNode {
	t.Helper()
	for _, n := range nodes {
		if n.name == name {
			return n
		}
	}
	t.Fatalf("no region %s", name)
	return nil
}

func allPartitions() []int {
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	return ps
}

func value(ctx context.Context, t testing.TB, n *node, key string) string {
	t.Helper()
	rec, err := n.store.Get(ctx, accounts, key)
	require.NoError(t, err)
	return string(rec.Value)
}

func sameData(ctx context.Context, t testing.TB, nodes []*node, table string, keys []string) bool {
	t.Helper()
	var hashes []string
	for _, n := range nodes {
		h, err := splitbrain.Hash(ctx, n.store, table, keys)
		require.NoError(t, err)
		hashes = append(hashes, h)
	}
	return len(slices.Compact(hashes)) == 1
}

// asError returns the error of type E in err's chain, failing the test if
// there is none.
func asError[E error](t testing.TB, err error) E {
	t.Helper()
	var e E
	require.True(t, errors.As(err, &e), "want a %T, got %v", e, err)
	return e
}
