package partition_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/store/memstore"
)

func TestNew(t *testing.T) {
	ctx := context.Background()
	clock, err := xregion.NewClock(xregion.NewManualClock(t0))
	require.NoError(t, err)
	store, err := memstore.New(east)
	require.NoError(t, err)

	tests := []struct {
		name  string
		store xregion.Store
		clock *xregion.Clock
		n     int
		opts  []partition.Option
	}{
		{name: "nil store", clock: clock, n: 8},
		{name: "nil clock", store: store, n: 8},
		{name: "no partitions", store: store, clock: clock, n: 0},
		{name: "too many partitions", store: store, clock: clock, n: partition.MaxPartitions + 1},
		{name: "bad table name", store: store, clock: clock, n: 8, opts: []partition.Option{partition.WithTable("Owners")}},
		{name: "no approvals", store: store, clock: clock, n: 8, opts: []partition.Option{partition.WithApprovals(0)}},
		{name: "zero poll interval", store: store, clock: clock, n: 8, opts: []partition.Option{partition.WithPollInterval(0)}},
		{name: "nil entity key function", store: store, clock: clock, n: 8, opts: []partition.Option{partition.WithEntityKey(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := partition.New(ctx, tt.store, tt.clock, tt.n, tt.opts...)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}

	r, err := partition.New(ctx, store, clock, 8)
	require.NoError(t, err)
	require.Equal(t, east, r.Region())
	require.Equal(t, partition.DefaultTable, r.Table())
	require.Equal(t, 8, r.Partitioner().N())
	for p, o := range r.Owners() {
		require.Equal(t, partition.Ownership{Partition: p}, o, "a new map has no homes")
	}
}

// TestNew_PartitionCount: the partition count is fixed when the map is
// created. A Router with another count is refused, and so is an ownership
// record of another count arriving from a peer.
func TestNew_PartitionCount(t *testing.T) {
	ctx := context.Background()
	a := newMemRegion(t, east, 8)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)

	_, err = partition.New(ctx, a.store, a.clock, 16)
	var pc *partition.PartitionCountError
	require.ErrorAs(t, err, &pc)
	require.Equal(t, 8, pc.Stored)
	require.Equal(t, 16, pc.Configured)
	require.ErrorIs(t, err, partition.ErrPartitionCount)

	b := newMemRegion(t, west, 16)
	changes, err := a.store.Changes(ctx, xregion.ChangeQuery{Limit: 1})
	require.NoError(t, err)
	_, err = b.store.Apply(ctx, xregion.Batch{From: east, Through: changes[0].Pos, Writes: []xregion.Write{{Table: changes[0].Table, Record: changes[0].Record}}})
	require.ErrorIs(t, err, partition.ErrPartitionCount, "a peer's map of another size must stop replication, not mix")
}

func TestRouter_Stamp(t *testing.T) {
	ctx := context.Background()
	a := newMemRegion(t, east, 8)
	b := newMemRegion(t, west, 8)
	const key = "customer-42"
	p := a.router.Partition(key)

	_, err := a.router.Stamp(xregion.Record{Key: key})
	require.Equal(t, &partition.NotHomeError{Key: key, Partition: p, Region: east}, err, "no home before Bootstrap")
	_, ok := partition.HomeOf(err)
	require.False(t, ok)

	grants, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.Len(t, grants, 8)
	require.NoError(t, exchange(ctx, a, b))

	rec, err := a.router.Stamp(xregion.Record{Key: key, Value: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, uint64(1), rec.Epoch)
	require.Equal(t, "x", string(rec.Value))
	require.Equal(t, partition.Ownership{Partition: p, Home: east, Epoch: 1, How: partition.MoveBootstrap, Version: grants[p].Version}, b.router.Route(key))

	_, err = b.router.Stamp(xregion.Record{Key: key})
	require.Equal(t, &partition.NotHomeError{Key: key, Partition: p, Region: west, Home: east, Epoch: 1}, err)
	require.ErrorIs(t, err, partition.ErrNotHome)
	require.True(t, partition.IsFenced(err))
	h, ok := partition.HomeOf(err)
	require.True(t, ok)
	require.Equal(t, east, h)
	require.Contains(t, err.Error(), "us-east-1")

	_, err = a.router.Stamp(xregion.Record{Key: key, Version: ver(1, west)})
	require.ErrorIs(t, err, xregion.ErrInvalid, "a region stamps only its own versions")
	_, err = a.router.Stamp(xregion.Record{Key: ""})
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

func TestRouter_Check(t *testing.T) {
	ctx := context.Background()
	a := newMemRegion(t, east, 4)
	b := newMemRegion(t, west, 4)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b))

	const key = "customer-7"
	p := a.router.Partition(key)
	stamped, err := a.router.Stamp(xregion.Record{Key: key})
	require.NoError(t, err)
	require.NoError(t, a.router.Check(stamped))

	_, err = b.router.Failover(ctx, []int{p}, partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b))

	err = a.router.Check(stamped)
	require.Equal(t, &partition.StaleEpochError{Key: key, Partition: p, Current: 2, Got: 1}, err)
	require.ErrorIs(t, err, partition.ErrStaleEpoch)
	require.True(t, partition.IsFenced(err))
	for _, s := range []string{`"customer-7"`, "partition 1", "epoch 1", "current epoch is 2"} {
		require.Contains(t, err.Error(), s)
	}

	next, err := b.router.Stamp(xregion.Record{Key: key})
	require.NoError(t, err)
	require.NoError(t, b.router.Check(next))
	next.Epoch = 3
	require.ErrorIs(t, b.router.Check(next), xregion.ErrInvalid, "an epoch from the future was not stamped here")
	require.ErrorIs(t, a.router.Check(xregion.Record{Key: key, Epoch: 2}), partition.ErrNotHome)
}

func TestRouter_Refresh(t *testing.T) {
	ctx := context.Background()
	a := newMemRegion(t, east, 4)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)

	// A second process of the same region, on the same store, with a Router
	// of its own: it sees the map at New, and later moves after Refresh.
	other, err := partition.New(ctx, a.store, a.clock, 4)
	require.NoError(t, err)
	require.Equal(t, a.router.Owners(), other.Owners())

	_, err = other.Failover(ctx, []int{2}, partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
	require.NoError(t, err, "failing over to the region that is already home is a no-op")

	b := newMemRegion(t, west, 4)
	require.NoError(t, exchange(ctx, a, b))
	_, err = b.router.Failover(ctx, []int{2}, partition.Approval{By: "alice"}, partition.Approval{By: "bob"})
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b))
	// other declared the ownership table last on a.store, so it observed
	// the grant as the store applied it; a.router learns it on Refresh.
	require.Equal(t, west, other.Owner(2).Home)
	require.Equal(t, east, a.router.Owner(2).Home)
	require.NoError(t, a.router.Refresh(ctx))
	require.Equal(t, west, a.router.Owner(2).Home)
	require.Equal(t, uint64(2), a.router.Owner(2).Epoch)
}

func TestRouter_Partition_EntityKey(t *testing.T) {
	customer := func(key string) string { c, _, _ := strings.Cut(key, "/"); return c }
	r := newMemRegion(t, east, 64, partition.WithEntityKey(customer)).router
	p, err := partition.NewPartitioner(64)
	require.NoError(t, err)
	for _, key := range []string{"customer-42", "customer-42/order-7", "customer-42/address"} {
		require.Equal(t, p.Partition("customer-42"), r.Partition(key), key)
	}
	require.NotEqual(t, r.Partition("customer-42/order-7"), p.Partition("customer-42/order-7"), "this key must route by its entity")
}

// TestRouter_Concurrent stamps and applies writes from several goroutines
// while ownership moves underneath them and the map replicates: every write
// either is refused by Stamp, or applied, or quarantined; none is lost.
func TestRouter_Concurrent(t *testing.T) {
	ctx := context.Background()
	a, b := newMemRegion(t, east, 4), newMemRegion(t, west, 4)
	_, err := a.router.Bootstrap(ctx, home(east))
	require.NoError(t, err)
	require.NoError(t, exchange(ctx, a, b))

	var wg sync.WaitGroup
	var applied, refused, fenced atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				rec, err := a.router.Stamp(xregion.Record{Key: fmt.Sprintf("customer-%d-%d", w, i), Value: []byte("x")})
				if err != nil {
					assert.True(t, partition.IsFenced(err), "%v", err)
					refused.Add(1)
					continue
				}
				rec.Version = xregion.Version{Time: a.clock.Now(), Region: east}
				res, err := a.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: accounts, Record: rec}}})
				if !assert.NoError(t, err) {
					return
				}
				applied.Add(int64(res.Applied))
				fenced.Add(int64(res.Conflicts()))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := b.router.Failover(ctx, []int{0, 1}, approvals...)
		assert.NoError(t, err)
		assert.NoError(t, exchange(ctx, a, b))
	}()
	wg.Wait()
	require.Equal(t, int64(200), applied.Load()+refused.Load()+fenced.Load())
	q, _, err := a.router.Quarantine(ctx, 0, 1000)
	require.NoError(t, err)
	require.Len(t, q, int(fenced.Load()))
}
