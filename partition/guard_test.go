package partition_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/store/memstore"
)

const (
	south xregion.Region = "ap-south-1"
	west  xregion.Region = "eu-west-1"
	east  xregion.Region = "us-east-1"
)

// ver is the version stamped ms milliseconds after t0 in region r.
func ver(ms int64, r xregion.Region) xregion.Version {
	return xregion.Version{Time: xregion.Timestamp{WallTime: t0.Add(time.Duration(ms) * time.Millisecond).UnixNano()}, Region: r}
}

func put(value string, v, base xregion.Version, epoch uint64) xregion.Record {
	return xregion.Record{Key: "k", Value: []byte(value), Version: v, Base: base, Epoch: epoch}
}

// newGuard returns a Guard over a one-partition map in which the partition
// is homed as given (no home if epoch is 0), wrapping lww on a clock that
// reads t0.
func newGuard(t testing.TB, epoch uint64, home xregion.Region) (*partition.Guard, *partition.Router) {
	t.Helper()
	ctx := context.Background()
	clock, err := xregion.NewClock(xregion.NewManualClock(t0))
	require.NoError(t, err)
	store, err := memstore.New(south)
	require.NoError(t, err)
	router, err := partition.New(ctx, store, clock, 1)
	require.NoError(t, err)
	if epoch > 0 {
		router.Observe(partition.Ownership{Partition: 0, Home: home, Epoch: epoch, How: partition.MoveFailover, Version: ver(-1000, home)})
	}
	inner, err := lww.New(clock)
	require.NoError(t, err)
	g, err := partition.NewGuard(router, inner)
	require.NoError(t, err)
	return g, router
}

func TestNewGuard(t *testing.T) {
	_, router := newGuard(t, 0, "")
	_, err := partition.NewGuard(nil, xregion.ResolverFunc(func(l, i xregion.Record) (xregion.Resolution, error) { return xregion.Resolution{}, nil }))
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = partition.NewGuard(router, nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = partition.NewGuard(router, xregion.ResolverFunc(nil))
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

// TestGuard_Resolve is the Guard's event table. Unless a case says
// otherwise the partition is homed in west at epoch 2, after east held it at
// epoch 1.
func TestGuard_Resolve(t *testing.T) {
	v0 := ver(0, east)
	rec0 := put("v0", v0, xregion.Version{}, 1) // east's write before the move; everyone has it
	staleEast := put("east", ver(10, east), v0, 1)
	westW := put("west", ver(20, west), v0, 2)

	const (
		none     = ""
		local    = "local"
		incoming = "incoming"
	)
	tests := []struct {
		name            string
		noHome          bool // the partition has never been assigned
		local, incoming xregion.Record
		changed         bool
		lost            string
		reason          xregion.LossReason
	}{
		{name: "current write on an empty key", local: xregion.Record{}, incoming: westW, changed: true},
		{name: "stale epoch on an empty key is fenced", local: xregion.Record{}, incoming: staleEast, lost: incoming, reason: xregion.LostFenced},
		{name: "current epoch from another region lost an epoch tie: fenced", local: xregion.Record{}, incoming: put("tie", ver(20, east), v0, 2), lost: incoming, reason: xregion.LostFenced},
		{name: "write of an epoch the map does not know yet is accepted", local: rec0, incoming: put("next", ver(30, south), v0, 3), changed: true},
		{name: "stale write on a stale record is fenced, the record stays", local: rec0, incoming: staleEast, lost: incoming, reason: xregion.LostFenced},
		{name: "stale write the stored record's writer had seen is superseded, not fenced", local: westW, incoming: rec0},
		{name: "stale write the new home had not seen is fenced", local: westW, incoming: put("east", ver(30, east), v0, 1), lost: incoming, reason: xregion.LostFenced},
		{name: "current write replaces the stale record it read", local: rec0, incoming: westW, changed: true},
		{name: "current write displaces a stale record it had not seen", local: staleEast, incoming: westW, changed: true, lost: local, reason: xregion.LostFenced},
		{name: "current write displaces a stale record even if that is newer by version", local: put("late", ver(90, east), v0, 1), incoming: westW, changed: true, lost: local, reason: xregion.LostFenced},
		{name: "two current writes: the newer supersedes what it read", local: westW, incoming: put("west2", ver(30, west), westW.Version, 2), changed: true},
		{name: "two current concurrent writes: lww decides and reports", local: westW, incoming: put("west3", ver(25, west), v0, 2), changed: true, lost: local, reason: xregion.LostConcurrent},
		{name: "current write older than a stored write of a newer epoch is fenced", local: put("next", ver(5, south), v0, 3), incoming: westW, lost: incoming, reason: xregion.LostFenced},
		{name: "replay of a stale stored record is a no-op", local: rec0, incoming: rec0.Clone()},
		{name: "replay of a fenced write is fenced again (the store records it once)", local: westW, incoming: staleEast, lost: incoming, reason: xregion.LostFenced},
		{name: "no home: a record of epoch 0 is fenced", noHome: true, local: xregion.Record{}, incoming: put("x", ver(5, east), xregion.Version{}, 0), lost: incoming, reason: xregion.LostFenced},
		{name: "no home here yet: a record of epoch 1 is accepted", noHome: true, local: xregion.Record{}, incoming: put("x", ver(5, east), xregion.Version{}, 1), changed: true},
		{name: "tombstones are fenced like writes", local: westW, incoming: xregion.Record{Key: "k", Version: ver(40, east), Base: v0, Epoch: 1, Tombstone: true}, lost: incoming, reason: xregion.LostFenced},
		{name: "a stale record far in the future is fenced, not an error", local: westW, incoming: put("future", ver(int64(time.Hour/time.Millisecond), east), v0, 1), lost: incoming, reason: xregion.LostFenced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			epoch, home := uint64(2), west
			if tt.noHome {
				epoch, home = 0, ""
			}
			g, _ := newGuard(t, epoch, home)
			res, err := g.Resolve(tt.local, tt.incoming)
			require.NoError(t, err)
			require.Equal(t, tt.changed, res.Changed, "changed")
			if tt.changed {
				require.True(t, tt.incoming.Equal(res.Record), "stored %+v, want the incoming record", res.Record)
			}
			switch tt.lost {
			case none:
				require.Nil(t, res.Lost, "lost")
			case local:
				require.NotNil(t, res.Lost)
				require.True(t, tt.local.Equal(*res.Lost), "lost %+v, want the stored record", *res.Lost)
			case incoming:
				require.NotNil(t, res.Lost)
				require.True(t, tt.incoming.Equal(*res.Lost), "lost %+v, want the incoming record", *res.Lost)
			}
			if res.Lost != nil {
				require.Equal(t, tt.reason, res.Reason)
			}
		})
	}
}

func TestGuard_Resolve_Errors(t *testing.T) {
	g, _ := newGuard(t, 2, west)

	other := put("x", ver(10, west), xregion.Version{}, 2)
	other.Key = "other"
	_, err := g.Resolve(other, put("x", ver(20, west), xregion.Version{}, 2))
	require.ErrorIs(t, err, xregion.ErrInvalid)

	// A current record from a clock far ahead is refused by lww, and the
	// Guard passes that on: the batch stalls until the clock catches up.
	_, err = g.Resolve(xregion.Record{}, put("future", ver(int64(time.Hour/time.Millisecond), west), xregion.Version{}, 2))
	require.ErrorIs(t, err, xregion.ErrClockOffset)
}

// TestGuard_Resolve_NewerEpochStopsStamping: a region that accepts a write of
// an epoch its map does not know stops stamping writes for that partition,
// even if its map still says it is the home: ownership has moved.
func TestGuard_Resolve_NewerEpochStopsStamping(t *testing.T) {
	g, router := newGuard(t, 2, south) // the Router's own region is south
	_, err := router.Stamp(xregion.Record{Key: "k"})
	require.NoError(t, err)

	res, err := g.Resolve(xregion.Record{}, put("w", ver(10, west), xregion.Version{}, 3))
	require.NoError(t, err)
	require.True(t, res.Changed)

	_, err = router.Stamp(xregion.Record{Key: "k"})
	var stale *partition.StaleEpochError
	require.ErrorAs(t, err, &stale)
	require.Equal(t, partition.StaleEpochError{Key: "k", Partition: 0, Current: 3, Got: 2}, *stale)
}

// TestGuard_Resolve_OrderIndependent: under one ownership map, a key ends
// up holding the same record whatever order the writes arrive in: the
// last-write-wins maximum of the current writes, or nothing if none is
// current, as a naive reference computes. And every write that is not
// current goes to the ledger (fenced, or lost to a concurrent write while its
// epoch still looked current), unless it was superseded: another write's
// writer had certainly seen it (the Guard's rule), or a write of the same
// epoch had seen it by lww's rule (the inner resolver's, applied while both
// looked current).
func TestGuard_Resolve_OrderIndependent(t *testing.T) {
	regions := []xregion.Region{south, west, east}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		// A history of writes of one key under epochs 1 to 3, each on a
		// random earlier write (or blind).
		var writes []xregion.Record
		for i := range 2 + rng.IntN(6) {
			var base xregion.Version
			if i > 0 && rng.IntN(3) > 0 {
				base = writes[rng.IntN(i)].Version
			}
			v := ver(int64(10*(i+1)+rng.IntN(5)), regions[rng.IntN(3)])
			if !base.Less(v) {
				base = xregion.Version{}
			}
			writes = append(writes, put(fmt.Sprintf("w%d", i), v, base, uint64(1+rng.IntN(3))))
		}
		mapEpoch, mapHome := uint64(1+rng.IntN(3)), regions[rng.IntN(3)]

		// The reference: the highest current write by version.
		top := mapEpoch
		for _, w := range writes {
			top = max(top, w.Epoch)
		}
		var want xregion.Record
		for _, w := range writes {
			if w.Epoch == top && (top > mapEpoch || w.Version.Region == mapHome) && want.Version.Less(w.Version) {
				want = w
			}
		}

		for perm := range 5 {
			order := slices.Clone(writes)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			g, _ := newGuard(t, mapEpoch, mapHome)
			var held xregion.Record
			ledger := map[xregion.Version]bool{} // fenced, or concurrent while its epoch looked current
			for _, w := range order {
				res, err := g.Resolve(held, w)
				require.NoError(t, err)
				if res.Changed {
					held = res.Record
				}
				if res.Lost != nil {
					ledger[res.Lost.Version] = true
				}
			}
			require.True(t, want.Equal(held), "round %d perm %d: held %v, want %v", round, perm, held.Version, want.Version)
			for _, w := range writes {
				current := w.Epoch == top && (top > mapEpoch || w.Version.Region == mapHome)
				if current {
					continue
				}
				seen := slices.ContainsFunc(writes, func(m xregion.Record) bool {
					if m.Version == w.Version {
						return false
					}
					// Across epochs the Guard's strict rule; within one,
					// the inner lww's looser one.
					return superseded(m, w.Version) || m.Epoch == w.Epoch && lwwSaw(m, w.Version)
				})
				require.True(t, ledger[w.Version] || seen,
					"round %d perm %d: stale write %v neither in the ledger nor seen by another write", round, perm, w.Version)
			}
		}
	}
}

// superseded is the Guard's rule for "the writer of w certainly saw v": it
// read v, or a later write of v's region, or it is a blind write after v in
// v's region.
func superseded(w xregion.Record, v xregion.Version) bool {
	if w.Base == v {
		return true
	}
	if !w.Base.IsZero() {
		return w.Base.Region == v.Region && v.Less(w.Base)
	}
	return w.Version.Region == v.Region && v.Less(w.Version)
}

// lwwSaw is lww's rule: the writer of w had read v or any later version, or
// w is a blind write after v in v's region.
func lwwSaw(w xregion.Record, v xregion.Version) bool {
	return w.Base.Compare(v) >= 0 || w.Base.IsZero() && w.Version.Region == v.Region && v.Less(w.Version)
}
