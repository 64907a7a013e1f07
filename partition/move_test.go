package partition_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/splitbrain"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
)

var approvals = []partition.Approval{{By: "alice"}, {By: "bob"}}

func TestRouter_Bootstrap(t *testing.T) {
	ctx := context.Background()
	a := newMemRegion(t, east, 4)
	grants, err := a.router.Bootstrap(ctx, func(p int) xregion.Region { return []xregion.Region{east, west}[p%2] })
	require.NoError(t, err)
	require.Len(t, grants, 4)
	for p, g := range grants {
		require.Equal(t, p, g.Partition)
		require.Equal(t, uint64(1), g.Epoch)
		require.Equal(t, partition.MoveBootstrap, g.How)
		require.Equal(t, g, a.router.Owner(p))
	}
	require.Equal(t, west, a.router.Owner(1).Home)

	again, err := a.router.Bootstrap(ctx, home(south))
	require.NoError(t, err)
	require.Empty(t, again, "partitions with a home are left alone")
	require.Equal(t, west, a.router.Owner(1).Home)

	_, err = newMemRegion(t, west, 4).router.Bootstrap(ctx, home("Not A Region"))
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = a.router.Bootstrap(ctx, nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

// TestRouter_Handover moves every partition from a to b while c lags, and
// checks that nothing is lost or fenced anywhere: b holds all of a's writes
// when Handover returns, and c, which gets b's first writes under the new
// epoch before a's last writes under the old one, fences none of a's.
func TestRouter_Handover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b, c := newMemRegion(t, east, 4), newMemRegion(t, west, 4), newMemRegion(t, south, 4)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b, c))

	keys := make([]string, 12)
	for i := range keys {
		keys[i] = fmt.Sprintf("customer-%d", i)
		a.mustWrite(ctx, t, keys[i], "a1")
	}
	require.NoError(t, exchange(ctx, a, b, c))
	for _, k := range keys {
		a.mustWrite(ctx, t, k, "a2") // not shipped before the handover starts
	}
	early, err := a.router.Stamp(xregion.Record{Key: keys[0], Value: []byte("late")})
	require.NoError(t, err)

	grants := handover(ctx, t, a, b, all(4))
	for p, g := range grants {
		require.Equal(t, partition.Ownership{Partition: p, Home: west, Epoch: 2, How: partition.MoveHandover, From: east, Version: g.Version}, g)
		require.Equal(t, g, b.router.Owner(p), "the new home learned of the move as it applied it")
	}
	for _, k := range keys {
		require.Equal(t, "a2", b.value(ctx, t, k), "RPO 0: the new home has every write of the old one")
	}

	_, err = a.router.Stamp(xregion.Record{Key: keys[1]})
	require.ErrorIs(t, err, partition.ErrNotHome, "the old home stops as soon as the grant is written")
	require.Equal(t, partition.ErrStaleEpoch, unwrapSentinel(a.router.Check(early)))

	for _, k := range keys[:6] {
		b.mustWrite(ctx, t, k, "b1")
	}
	_, err = replicate.Ship(ctx, b.store, c.store) // c gets epoch 2 before the grant
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b, c))

	for _, r := range []*region{a, b, c} {
		q, _, err := r.router.Quarantine(ctx, 0, 100)
		require.NoError(t, err)
		require.Empty(t, q, "nothing fenced in %s", r.name)
		require.Equal(t, west, r.router.Owner(0).Home, r.name)
		for i, k := range keys {
			want := "a2"
			if i < 6 {
				want = "b1"
			}
			require.Equal(t, want, r.value(ctx, t, k), "%s %s", r.name, k)
		}
	}

	// A write a stamped before the move and applies after it is fenced in a
	// itself: quarantined, listed in Result.Lost, never applied.
	early.Version = xregion.Version{Time: a.clock.Now(), Region: east}
	early.Base = xregion.Version{}
	res, err := a.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: accounts, Record: early}}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Unchanged)
	require.Len(t, res.Lost, 1)
	require.Equal(t, xregion.LostFenced, res.Lost[0].Reason)
	q, _, err := a.router.Quarantine(ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.True(t, early.Equal(q[0].Lost))
	require.Equal(t, xregion.LostFenced, q[0].Reason)
}

// handover runs Handover from a to b while shipping a's changelog to b, as
// the replicator would, and returns the grants.
func handover(ctx context.Context, t testing.TB, a, b *region, partitions []int) []partition.Ownership {
	t.Helper()
	type result struct {
		grants []partition.Ownership
		err    error
	}
	done := make(chan result, 1)
	go func() {
		g, err := a.router.Handover(ctx, partitions, b.store)
		done <- result{g, err}
	}()
	for {
		select {
		case r := <-done:
			require.NoError(t, r.err)
			return r.grants
		case <-time.After(time.Millisecond):
			_, err := replicate.Ship(ctx, a.store, b.store)
			require.NoError(t, err)
		}
	}
}

func unwrapSentinel(err error) error {
	for _, s := range []error{partition.ErrStaleEpoch, partition.ErrNotHome, partition.ErrApprovals} {
		if err != nil && errorsIs(err, s) {
			return s
		}
	}
	return err
}

func TestRouter_Handover_Errors(t *testing.T) {
	ctx := context.Background()
	a, b := newMemRegion(t, east, 4), newMemRegion(t, west, 4)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b))

	_, err = b.router.Handover(ctx, []int{1}, a.store)
	require.Equal(t, &partition.NotHomeError{Partition: 1, Region: west, Home: east, Epoch: 1}, unwrapAs[*partition.NotHomeError](t, err))
	_, err = a.router.Handover(ctx, []int{1}, a.store)
	require.ErrorIs(t, err, xregion.ErrInvalid, "to itself")
	_, err = a.router.Handover(ctx, []int{1}, nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = a.router.Handover(ctx, nil, b.store)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = a.router.Handover(ctx, []int{4}, b.store)
	require.ErrorIs(t, err, xregion.ErrInvalid)

	t.Run("new home never catches up", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		grants, err := a.router.Handover(short, []int{1}, b.store)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Len(t, grants, 1, "the grant was written; the move completes when b catches up")
		_, err = a.router.Stamp(xregion.Record{Key: keyOf(a.router, 1)})
		require.ErrorIs(t, err, partition.ErrNotHome)
		require.NoError(t, exchange(ctx, a, b))
		require.Equal(t, west, b.router.Owner(1).Home)
	})
}

func TestRouter_Failover_Approvals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		need      int
		approvals []partition.Approval
		got       int // distinct approvals counted; -1: refused as invalid
	}{
		{name: "none", need: 2, got: 0},
		{name: "one", need: 2, approvals: []partition.Approval{{By: "alice"}}, got: 1},
		{name: "the same person twice", need: 2, approvals: []partition.Approval{{By: "alice"}, {By: " alice "}}, got: 1},
		{name: "the same person in capitals", need: 2, approvals: []partition.Approval{{By: "alice"}, {By: "ALICE"}}, got: 1},
		{name: "an empty name", need: 2, approvals: []partition.Approval{{By: "alice"}, {By: " "}}, got: -1},
		{name: "two of three", need: 3, approvals: approvals, got: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newMemRegion(t, east, 2)
			b := newMemRegion(t, west, 2, partition.WithApprovals(tt.need))
			_, err := a.router.Bootstrap(ctx, home(east))
			require.NoError(t, err)
			require.NoError(t, exchange(ctx, a, b))

			_, err = b.router.Failover(ctx, []int{0}, tt.approvals...)
			if tt.got < 0 {
				require.ErrorIs(t, err, xregion.ErrInvalid)
			} else {
				require.Equal(t, &partition.ApprovalError{Need: tt.need, Got: tt.got}, unwrapAs[*partition.ApprovalError](t, err))
				require.ErrorIs(t, err, partition.ErrApprovals)
			}
			require.Equal(t, east, b.router.Owner(0).Home, "nothing moved")
		})
	}
}

// TestRouter_Failover: b takes a's partitions at once. a's write that b had
// staged (a synchronous replicator acknowledged it) is applied before the
// move; a's write that b never received is quarantined when it arrives.
func TestRouter_Failover(t *testing.T) {
	ctx := context.Background()
	a, b := newMemRegion(t, east, 2), newMemRegion(t, west, 2)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b))

	staged := a.mustWrite(ctx, t, "customer-1", "staged")
	require.NoError(t, b.store.(xregion.Stager).Stage(ctx, east, []xregion.Write{{Table: accounts, Record: staged}}))
	unshipped := a.mustWrite(ctx, t, "customer-2", "unshipped")

	grants, err := b.router.Failover(ctx, all(2), approvals...)
	require.NoError(t, err)
	require.Len(t, grants, 2)
	for p, g := range grants {
		require.Equal(t, partition.Ownership{Partition: p, Home: west, Epoch: 2, How: partition.MoveFailover, From: east, By: []string{"alice", "bob"}, Version: g.Version}, g)
	}
	require.Equal(t, "staged", b.value(ctx, t, "customer-1"), "staged writes are applied before the move")

	again, err := b.router.Failover(ctx, all(2), approvals...)
	require.NoError(t, err)
	require.Empty(t, again, "failing over to the current home is a no-op")

	require.NoError(t, exchange(ctx, a, b))
	require.Equal(t, "", b.value(ctx, t, "customer-2"))
	q, _, err := b.router.Quarantine(ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.True(t, unshipped.Equal(q[0].Lost), "the write b never had is quarantined, not applied")
	require.Equal(t, xregion.LostFenced, q[0].Reason)
	require.Equal(t, west, q[0].Region)

	_, err = a.router.Stamp(xregion.Record{Key: "customer-3"})
	h, ok := partition.HomeOf(err)
	require.True(t, ok)
	require.Equal(t, west, h)
}

// TestRouter_Failover_Tie: two regions fail over the same partition while
// they cannot see each other; both grants carry epoch 2. When they meet, the
// grant with the higher record version wins in every region, and the other
// goes to the ledger as a concurrent loss.
func TestRouter_Failover_Tie(t *testing.T) {
	ctx := context.Background()
	a, b, c := newMemRegion(t, east, 1), newMemRegion(t, west, 1), newMemRegion(t, south, 1)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b, c))

	gb, err := b.router.Failover(ctx, []int{0}, approvals...)
	require.NoError(t, err)
	c.wall.Advance(time.Second) // c decides later: its grant wins
	gc, err := c.router.Failover(ctx, []int{0}, approvals...)
	require.NoError(t, err)
	require.Equal(t, gb[0].Epoch, gc[0].Epoch)
	require.True(t, gb[0].Version.Less(gc[0].Version))

	require.NoError(t, exchange(ctx, a, b, c))
	for _, r := range []*region{a, b, c} {
		require.Equal(t, gc[0], r.router.Owner(0), "%s", r.name)
	}
	ledger, err := splitbrain.Ledger(ctx, b.store)
	require.NoError(t, err)
	require.Len(t, ledger, 1)
	require.Equal(t, partition.DefaultTable, ledger[0].Table)
	require.Equal(t, xregion.LostConcurrent, ledger[0].Reason)
	require.Equal(t, gb[0].Version, ledger[0].Lost.Version)
	require.Equal(t, gc[0].Version, ledger[0].Winner)

	_, err = b.router.Stamp(xregion.Record{Key: "k"})
	require.ErrorIs(t, err, partition.ErrNotHome)
	_, err = c.router.Stamp(xregion.Record{Key: "k"})
	require.NoError(t, err)
}

// TestRouter_Reassert: after a failover during a partition, the old home
// still holds the writes it accepted under the old epoch; fencing cannot
// take them back there. Reassert in the new home can.
func TestRouter_Reassert(t *testing.T) {
	ctx := context.Background()
	a, b := newMemRegion(t, east, 2), newMemRegion(t, west, 2)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	a.mustWrite(ctx, t, "customer-1", "v0")
	require.NoError(t, exchange(ctx, a, b))

	_, err = b.router.Failover(ctx, all(2), approvals...)
	require.NoError(t, err)
	stale1 := a.mustWrite(ctx, t, "customer-1", "stale") // a does not know yet
	stale2 := a.mustWrite(ctx, t, "customer-2", "stale-new")
	require.NoError(t, exchange(ctx, a, b))

	require.Equal(t, "v0", b.value(ctx, t, "customer-1"))
	require.Equal(t, "stale", a.value(ctx, t, "customer-1"), "a still holds what it accepted")

	q, next, err := b.router.Quarantine(ctx, 0, 1)
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.True(t, stale1.Equal(q[0].Lost))
	q, _, err = b.router.Quarantine(ctx, next, 10)
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.True(t, stale2.Equal(q[0].Lost))

	_, err = a.router.Reassert(ctx, accounts, "customer-1")
	require.ErrorIs(t, err, partition.ErrNotHome, "only the home reasserts")
	n, err := b.router.Reassert(ctx, accounts, "customer-1", "customer-2", "customer-1")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, exchange(ctx, a, b))

	for _, r := range []*region{a, b} {
		rec, err := r.store.Get(ctx, accounts, "customer-1")
		require.NoError(t, err)
		require.Equal(t, "v0", string(rec.Value), r.name)
		require.Equal(t, uint64(2), rec.Epoch)
		rec, err = r.store.Get(ctx, accounts, "customer-2")
		require.NoError(t, err)
		require.True(t, rec.Tombstone, "a key the home never had is deleted everywhere")
	}
	q, _, err = a.router.Quarantine(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, q, 2, "a quarantined its own stale writes as the reasserted records displaced them")
}
