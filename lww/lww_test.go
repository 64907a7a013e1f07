package lww_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
)

const (
	south xregion.Region = "ap-south-1" // regions sort by name: south < west < east
	west  xregion.Region = "eu-west-1"
	east  xregion.Region = "us-east-1"
)

// t0 is the start of every test history.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// ver is the version stamped ms milliseconds after t0 in region r.
func ver(ms int64, r xregion.Region) xregion.Version {
	return xregion.Version{Time: xregion.Timestamp{WallTime: t0.Add(time.Duration(ms) * time.Millisecond).UnixNano()}, Region: r}
}

func put(value string, v, base xregion.Version) xregion.Record {
	return xregion.Record{Key: "k", Value: []byte(value), Version: v, Base: base}
}

func del(v, base xregion.Version) xregion.Record {
	return xregion.Record{Key: "k", Version: v, Base: base, Tombstone: true}
}

// newResolver returns a resolver whose clock reads an hour after t0, so that
// no test history is refused as being in the future.
func newResolver(t testing.TB) *lww.Resolver {
	t.Helper()
	clock, err := xregion.NewClock(xregion.NewManualClock(t0.Add(time.Hour)))
	require.NoError(t, err)
	r, err := lww.New(clock)
	require.NoError(t, err)
	return r
}

// stored is what the key holds after res.
func stored(local xregion.Record, res xregion.Resolution) xregion.Record {
	if res.Changed {
		return res.Record
	}
	return local
}

func requireSameLost(t testing.TB, want, got *xregion.Record, msgAndArgs ...any) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, msgAndArgs...)
		return
	}
	require.NotNil(t, got, msgAndArgs...)
	require.True(t, want.Equal(*got), append([]any{"lost %+v, want %+v", *got, *want}, msgAndArgs...)...)
}

func TestNew(t *testing.T) {
	_, err := lww.New(nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)

	clock, err := xregion.NewClock(xregion.SystemClock{})
	require.NoError(t, err)
	r, err := lww.New(clock)
	require.NoError(t, err)
	require.NotNil(t, r)
}

func TestResolver_Resolve(t *testing.T) {
	v0 := ver(0, east) // the version both regions start from
	rec0 := put("v0", v0, xregion.Version{})
	a := put("east", ver(10, east), v0) // east edits what it read
	b := put("west", ver(20, west), v0) // west edits the same, concurrently

	const (
		none     = ""
		local    = "local"
		incoming = "incoming"
	)
	tests := []struct {
		name            string
		local, incoming xregion.Record
		changed         bool   // incoming replaces local
		lost            string // which side goes to the ledger
	}{
		{name: "no record: incoming stored", local: xregion.Record{}, incoming: a, changed: true},
		{name: "no record: tombstone stored", local: xregion.Record{}, incoming: del(ver(5, west), xregion.Version{}), changed: true},

		{name: "newer write supersedes what its writer read", local: rec0, incoming: a, changed: true},
		{name: "older write already read by the stored one's writer is dropped", local: a, incoming: rec0},
		{name: "writer read a version newer than the stored one", local: a, incoming: put("south", ver(30, south), ver(20, west)), changed: true},
		{name: "replay of the stored record is a no-op", local: a, incoming: a.Clone()},
		{name: "replay with an empty value where nil is stored", local: put("", ver(10, east), v0), incoming: xregion.Record{Key: "k", Value: []byte{}, Version: ver(10, east), Base: v0}},

		{name: "concurrent cross-region: newer incoming wins, local lost", local: a, incoming: b, changed: true, lost: local},
		{name: "concurrent cross-region: older incoming loses and is reported", local: b, incoming: a, lost: incoming},
		{name: "concurrent read-modify-write in one region", local: a, incoming: put("east2", ver(12, east), v0), changed: true, lost: local},
		{name: "equal timestamps: region name breaks the tie", local: put("east", ver(10, east), v0), incoming: put("west", ver(10, west), v0), lost: incoming},

		{name: "blind writes in one region are a sequence", local: put("1", ver(10, east), xregion.Version{}), incoming: put("2", ver(20, east), xregion.Version{}), changed: true},
		{name: "blind write arriving after a later blind write of its region is dropped", local: put("2", ver(20, east), xregion.Version{}), incoming: put("1", ver(10, east), xregion.Version{})},
		{name: "blind write after a read-based write of its region", local: a, incoming: put("2", ver(20, east), xregion.Version{}), changed: true},
		{name: "blind cross-region overwrite is a conflict", local: put("1", ver(10, east), xregion.Version{}), incoming: put("2", ver(20, west), xregion.Version{}), changed: true, lost: local},
		{name: "blind cross-region overwrite of a read-based write is a conflict", local: a, incoming: put("2", ver(20, west), xregion.Version{}), changed: true, lost: local},
		{name: "older blind cross-region write loses and is reported", local: b, incoming: put("1", ver(10, east), xregion.Version{}), lost: incoming},

		{name: "equal version: tombstone beats value", local: put("x", ver(10, east), v0), incoming: del(ver(10, east), v0), changed: true, lost: local},
		{name: "equal version: value loses to tombstone", local: del(ver(10, east), v0), incoming: put("x", ver(10, east), v0), lost: incoming},
		{name: "equal version: larger value wins", local: put("apple", ver(10, east), v0), incoming: put("banana", ver(10, east), v0), changed: true, lost: local},
		{name: "equal version: smaller value loses", local: put("banana", ver(10, east), v0), incoming: put("apple", ver(10, east), v0), lost: incoming},
		{name: "equal version: longer value with the same prefix wins", local: put("ab", ver(10, east), v0), incoming: put("abc", ver(10, east), v0), changed: true, lost: local},
		{name: "equal version: empty value loses to any value", local: put("a", ver(10, east), v0), incoming: put("", ver(10, east), v0), lost: incoming},
		{
			name:     "equal version and value: larger epoch wins",
			local:    xregion.Record{Key: "k", Value: []byte("x"), Version: ver(10, east), Base: v0, Epoch: 1},
			incoming: xregion.Record{Key: "k", Value: []byte("x"), Version: ver(10, east), Base: v0, Epoch: 2},
			changed:  true, lost: local,
		},
		{name: "equal version and value: larger base wins", local: put("x", ver(10, east), ver(5, west)), incoming: put("x", ver(10, east), v0), lost: incoming},

		{name: "delete supersedes what it read", local: a, incoming: del(ver(20, west), a.Version), changed: true},
		{name: "concurrent newer delete wins, the write is reported", local: a, incoming: del(ver(20, west), v0), changed: true, lost: local},
		{name: "concurrent newer write beats a delete, the tombstone is reported", local: del(ver(10, east), v0), incoming: b, changed: true, lost: local},
		{name: "write after reading the tombstone resurrects the key", local: del(ver(10, east), v0), incoming: put("back", ver(20, west), ver(10, east)), changed: true},
		{name: "blind write after a delete of its region resurrects the key", local: del(ver(10, east), v0), incoming: put("back", ver(20, east), xregion.Version{}), changed: true},
		{name: "older concurrent write does not resurrect, and is reported", local: del(ver(20, west), v0), incoming: a, lost: incoming},
		{name: "stale write the deleter had read is dropped", local: del(ver(20, west), a.Version), incoming: a},
		{name: "replay of a tombstone is a no-op", local: del(ver(20, west), v0), incoming: del(ver(20, west), v0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver(t)
			res, err := r.Resolve(tt.local, tt.incoming)
			require.NoError(t, err)
			require.Equal(t, tt.changed, res.Changed, "changed")
			if tt.changed {
				require.True(t, tt.incoming.Equal(res.Record), "stored %+v, want the incoming record", res.Record)
			} else {
				require.Zero(t, res.Record, "record of an unchanged resolution")
			}
			switch tt.lost {
			case none:
				require.Nil(t, res.Lost, "lost")
			case local:
				requireSameLost(t, &tt.local, res.Lost)
			case incoming:
				requireSameLost(t, &tt.incoming, res.Lost)
			}

			// Symmetry: the other region meets the same two writes in the
			// opposite order and must keep the same record and report the
			// same loser.
			if tt.local.Version.IsZero() {
				return
			}
			swapped, err := newResolver(t).Resolve(tt.incoming, tt.local)
			require.NoError(t, err)
			require.True(t, stored(tt.local, res).Equal(stored(tt.incoming, swapped)),
				"stored %+v in one order, %+v in the other", stored(tt.local, res), stored(tt.incoming, swapped))
			requireSameLost(t, res.Lost, swapped.Lost, "swapped")
		})
	}
}

// TestResolver_Resolve_TwoRegions plays two regions that both hold v0 and
// write the key concurrently; each then receives the other's write.
func TestResolver_Resolve_TwoRegions(t *testing.T) {
	v0 := put("v0", ver(0, east), xregion.Version{})
	a := put("east", ver(10, east), v0.Version)
	b := put("west", ver(20, west), v0.Version)

	eastR, westR := newResolver(t), newResolver(t)
	resolve := func(r *lww.Resolver, local, incoming xregion.Record) (xregion.Record, *xregion.Record) {
		t.Helper()
		res, err := r.Resolve(local, incoming)
		require.NoError(t, err)
		return stored(local, res), res.Lost
	}

	eastHeld, lost := resolve(eastR, v0, a) // east's own write
	require.Nil(t, lost)
	westHeld, lost := resolve(westR, v0, b) // west's own write
	require.Nil(t, lost)

	eastHeld, eastLost := resolve(eastR, eastHeld, b) // b arrives second in east and wins
	westHeld, westLost := resolve(westR, westHeld, a) // a arrives second in west and loses

	require.True(t, eastHeld.Equal(b))
	require.True(t, westHeld.Equal(b))
	requireSameLost(t, &a, eastLost, "east")
	requireSameLost(t, &a, westLost, "west")
}

func TestResolver_Resolve_ClockOffset(t *testing.T) {
	const maxOffset = 250 * time.Millisecond
	setup := func(t *testing.T) (*xregion.ManualClock, *xregion.Clock, *lww.Resolver) {
		wall := xregion.NewManualClock(t0)
		clock, err := xregion.NewClock(wall, xregion.WithMaxOffset(maxOffset))
		require.NoError(t, err)
		r, err := lww.New(clock)
		require.NoError(t, err)
		return wall, clock, r
	}

	t.Run("far future refused, clock unchanged", func(t *testing.T) {
		_, clock, r := setup(t)
		before := clock.Now()
		incoming := xregion.Record{Key: "order/7", Value: []byte("x"), Version: ver(1000, west)}

		res, err := r.Resolve(xregion.Record{}, incoming)
		require.ErrorIs(t, err, xregion.ErrClockOffset)
		var offErr *xregion.ClockOffsetError
		require.ErrorAs(t, err, &offErr)
		require.Equal(t, incoming.Version.Time, offErr.Remote)
		require.Equal(t, maxOffset, offErr.MaxOffset)
		require.Equal(t, time.Second, offErr.Ahead())
		require.Contains(t, err.Error(), `"order/7"`)
		require.Zero(t, res)
		require.Equal(t, before.Next(), clock.Now(), "the refused timestamp moved the clock")
	})

	t.Run("refusal lifts once the wall clock catches up", func(t *testing.T) {
		wall, _, r := setup(t)
		incoming := put("x", ver(1000, west), xregion.Version{})
		_, err := r.Resolve(xregion.Record{}, incoming)
		require.ErrorIs(t, err, xregion.ErrClockOffset)

		wall.Advance(800 * time.Millisecond) // now 200 ms behind the write
		res, err := r.Resolve(xregion.Record{}, incoming)
		require.NoError(t, err)
		require.True(t, res.Changed)
	})

	t.Run("within max offset accepted; a later local write wins over it", func(t *testing.T) {
		_, clock, r := setup(t)
		remote := put("remote", ver(250, west), xregion.Version{}) // exactly MaxOffset ahead
		res, err := r.Resolve(xregion.Record{}, remote)
		require.NoError(t, err)
		require.True(t, res.Changed)

		now := clock.Now()
		require.True(t, remote.Version.Time.Less(now), "next Now %s is not after the remote write %s", now, remote.Version.Time)

		// A local write made after reading the remote one is stamped after
		// it although the local wall clock is 250 ms behind, so it wins.
		mine := put("mine", xregion.Version{Time: now, Region: east}, remote.Version)
		res, err = r.Resolve(remote, mine)
		require.NoError(t, err)
		require.True(t, res.Changed)
		require.Nil(t, res.Lost)
	})

	t.Run("a losing write still moves the clock", func(t *testing.T) {
		_, clock, r := setup(t)
		held := put("held", ver(200, south), xregion.Version{})
		loser := put("loser", ver(100, west), xregion.Version{})
		res, err := r.Resolve(held, loser)
		require.NoError(t, err)
		require.False(t, res.Changed)
		require.True(t, loser.Version.Time.Less(clock.Now()))
	})
}

func TestResolver_Resolve_Invalid(t *testing.T) {
	r := newResolver(t)
	_, err := r.Resolve(xregion.Record{}, xregion.Record{Key: "k", Value: []byte("x")})
	require.ErrorIs(t, err, xregion.ErrInvalid, "zero version")

	other := put("x", ver(10, east), xregion.Version{})
	other.Key = "other"
	_, err = r.Resolve(other, put("y", ver(20, east), xregion.Version{}))
	require.ErrorIs(t, err, xregion.ErrInvalid, "different keys")
}

// TestResolver_Resolve_Copies checks that Resolve leaves its inputs alone and
// returns records that share no memory with them.
func TestResolver_Resolve_Copies(t *testing.T) {
	a := put("east", ver(10, east), xregion.Version{})
	b := put("west", ver(20, west), xregion.Version{})
	for _, pair := range [][2]xregion.Record{{a, b}, {b, a}, {{}, a}} {
		local, incoming := pair[0].Clone(), pair[1].Clone()
		res, err := newResolver(t).Resolve(local, incoming)
		require.NoError(t, err)
		require.True(t, local.Equal(pair[0]) && incoming.Equal(pair[1]), "inputs modified")

		if res.Changed {
			res.Record.Value[0] ^= 0xff
		}
		if res.Lost != nil {
			res.Lost.Value[0] ^= 0xff
		}
		require.True(t, local.Equal(pair[0]) && incoming.Equal(pair[1]), "outputs share memory with inputs")
	}
}

// TestResolver_Resolve_UnrecordedLoss pins a limit of deciding concurrency
// from a single Base version (see HAZARD: one Base in the package doc): v
// and b are concurrent and v loses, but every region meets v only after d, a
// write built on b, so no region reports v.
func TestResolver_Resolve_UnrecordedLoss(t *testing.T) {
	v := put("v", ver(10, east), xregion.Version{}) // us-east-1
	b := put("b", ver(20, west), xregion.Version{}) // eu-west-1, blind: has not seen v
	d := put("d", ver(30, south), b.Version)        // ap-south-1 read b, not v

	arrivals := map[xregion.Region][]xregion.Record{
		east:  {v, d, b}, // the link from eu-west-1 is slow
		west:  {b, d, v},
		south: {b, d, v},
	}
	for region, order := range arrivals {
		r := newResolver(t)
		var held xregion.Record
		for _, w := range order {
			res, err := r.Resolve(held, w)
			require.NoError(t, err)
			require.Nil(t, res.Lost, "%s reported %+v", region, res.Lost)
			held = stored(held, res)
		}
		require.True(t, held.Equal(d))
	}

	// Had any region met v against b directly, it would have reported v.
	res, err := newResolver(t).Resolve(b, v)
	require.NoError(t, err)
	requireSameLost(t, &v, res.Lost)
}

var regions = []xregion.Region{south, west, east}

// randomHistory returns 2 to 12 writes of key "k" with distinct contents:
// random regions, timestamps within a few milliseconds (so timestamps are
// often equal across regions), a Base drawn from the versions written so far
// or none, some deletes, and some siblings (another process of the same
// region stamping the same version on a different write).
func randomHistory(rng *rand.Rand) []xregion.Record {
	n := 2 + rng.IntN(11)
	ws := make([]xregion.Record, 0, n)
	for len(ws) < n {
		if len(ws) > 0 && rng.IntN(8) == 0 {
			if s := sibling(rng, ws[rng.IntN(len(ws))]); !slices.ContainsFunc(ws, s.Equal) {
				ws = append(ws, s)
			}
			continue
		}
		w := xregion.Record{Key: "k"}
		if len(ws) > 0 && rng.IntN(3) > 0 {
			w.Base = ws[rng.IntN(len(ws))].Version
		}
		region := regions[rng.IntN(len(regions))]
		ts := xregion.Timestamp{
			WallTime: t0.Add(time.Duration(rng.IntN(6)) * time.Millisecond).UnixNano(),
			Logical:  int32(rng.IntN(2)),
		}
		if !w.Base.Time.Less(ts) {
			ts = w.Base.Time.Next() // the writer's clock had folded in what it read
		}
		for slices.ContainsFunc(ws, func(x xregion.Record) bool { return x.Version == xregion.Version{Time: ts, Region: region} }) {
			ts = ts.Next() // one clock never stamps a version twice
		}
		w.Version = xregion.Version{Time: ts, Region: region}
		if rng.IntN(5) == 0 {
			w.Tombstone = true
		} else {
			w.Value = randomValue(rng)
		}
		ws = append(ws, w)
	}
	return ws
}

func randomValue(rng *rand.Rand) []byte {
	v := make([]byte, rng.IntN(3))
	for i := range v {
		v[i] = byte('a' + rng.IntN(3))
	}
	return v
}

// sibling returns a write with w's version and different contents.
func sibling(rng *rand.Rand, w xregion.Record) xregion.Record {
	s := w.Clone()
	switch rng.IntN(4) {
	case 0:
		s.Tombstone = !s.Tombstone
		s.Value = nil
		if !s.Tombstone {
			s.Value = randomValue(rng)
		}
	case 1:
		s.Tombstone = false
		s.Value = append(randomValue(rng), 'z')
	case 2:
		s.Epoch++
	case 3:
		if s.Base.IsZero() {
			s.Base = ver(-1, regions[rng.IntN(len(regions))])
		} else {
			s.Base = xregion.Version{}
		}
	}
	return s
}

// The reference model, written from the package documentation.

// refCompare is the total order on writes of one key.
func refCompare(a, b xregion.Record) int {
	if c := a.Version.Compare(b.Version); c != 0 {
		return c
	}
	if a.Tombstone != b.Tombstone {
		if a.Tombstone {
			return 1
		}
		return -1
	}
	return cmp.Or(bytes.Compare(a.Value, b.Value), cmp.Compare(a.Epoch, b.Epoch), a.Base.Compare(b.Base))
}

// refSaw reports whether w's writer had seen v.
func refSaw(w xregion.Record, v xregion.Version) bool {
	if !w.Base.IsZero() {
		return !w.Base.Less(v)
	}
	return w.Version.Region == v.Region && v.Less(w.Version)
}

func refConcurrent(a, b xregion.Record) bool { return !refSaw(a, b.Version) && !refSaw(b, a.Version) }

// TestResolver_Resolve_Converges delivers random histories to three replicas
// in different random orders and checks them against the reference model.
func TestResolver_Resolve_Converges(t *testing.T) {
	const histories = 4000
	for h := range histories {
		rng := rand.New(rand.NewPCG(uint64(h), 0x77))
		ws := randomHistory(rng)
		want := slices.MaxFunc(ws, refCompare)

		finals := make([]xregion.Record, 3)
		for replica := range finals {
			r := newResolver(t)
			held, heldAt := xregion.Record{}, -1
			defeats := make([]int, len(ws))
			for _, i := range rng.Perm(len(ws)) {
				w := ws[i]
				before, wBefore := held.Clone(), w.Clone()
				res, err := r.Resolve(held, w)
				require.NoError(t, err)
				require.True(t, held.Equal(before) && w.Equal(wBefore), "history %d: inputs modified", h)

				winner, loser := held, w
				defeated := i
				if res.Changed {
					require.True(t, res.Record.Equal(w), "history %d: stored %+v, not the incoming %+v", h, res.Record, w)
					winner, loser, defeated = w, held, heldAt
					held, heldAt = res.Record, i
				}
				if defeated < 0 {
					require.Nil(t, res.Lost, "history %d: loss reported for an empty key", h)
					continue
				}
				defeats[defeated]++
				require.Positive(t, refCompare(winner, loser), "history %d: %+v lost to a lower %+v", h, loser, winner)
				if refConcurrent(winner, loser) {
					requireSameLost(t, &loser, res.Lost, "history %d: concurrent loser of %+v", h, winner)
				} else {
					require.Nil(t, res.Lost, "history %d: %+v reported losing to %+v, whose writer had seen it", h, loser, winner)
				}
			}
			finals[replica] = held

			// Every write but the final one was defeated exactly once.
			for i, n := range defeats {
				if i == heldAt {
					require.Zero(t, n, "history %d: final write defeated", h)
				} else {
					require.Equal(t, 1, n, "history %d: write %+v defeated %d times", h, ws[i], n)
				}
			}

			// Replaying the whole history changes nothing; a replayed write
			// concurrent with the final one is reported again, which is why
			// stores apply each batch exactly once.
			for _, i := range rng.Perm(len(ws)) {
				res, err := r.Resolve(held, ws[i])
				require.NoError(t, err)
				require.False(t, res.Changed, "history %d: replay of %+v changed %+v", h, ws[i], held)
				if i != heldAt && refConcurrent(held, ws[i]) {
					requireSameLost(t, &ws[i], res.Lost, "history %d: replay", h)
				} else {
					require.Nil(t, res.Lost, "history %d: replay", h)
				}
			}
		}
		for replica, got := range finals {
			require.True(t, got.Equal(want), "history %d: replica %d holds %+v, want %+v\nhistory: %+v", h, replica, got, want, ws)
		}
	}
}

// TestResolver_Resolve_Commutative checks on random pairs of writes that the
// outcome does not depend on which one is stored and which one arrives.
func TestResolver_Resolve_Commutative(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	r := newResolver(t)
	for range 3000 {
		ws := randomHistory(rng)
		a, b := ws[rng.IntN(len(ws))], ws[rng.IntN(len(ws))]
		ab, err := r.Resolve(a, b)
		require.NoError(t, err)
		ba, err := r.Resolve(b, a)
		require.NoError(t, err)
		require.True(t, stored(a, ab).Equal(stored(b, ba)), "Resolve(%+v, %+v) keeps a different record in each order", a, b)
		requireSameLost(t, ab.Lost, ba.Lost, "Resolve(%+v, %+v)", a, b)
		if a.Equal(b) {
			require.False(t, ab.Changed)
			require.Nil(t, ab.Lost)
		}
	}
}

// Example shows two regions that both hold version v0 of a customer's
// address and change it at the same time. Each region then receives the
// other's write: both keep the later one, and both report the earlier one as
// lost, so it can be found in the lost-update ledger.
func Example() {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	newRegion := func(wallOffset time.Duration) (*xregion.Clock, *lww.Resolver) {
		clock, err := xregion.NewClock(xregion.NewManualClock(start.Add(wallOffset)))
		if err != nil {
			panic(err)
		}
		r, err := lww.New(clock)
		if err != nil {
			panic(err)
		}
		return clock, r
	}
	eastClock, eastLWW := newRegion(0)
	westClock, westLWW := newRegion(3 * time.Millisecond)

	v0 := xregion.Record{Key: "customer/42", Value: []byte("12 Elm St"),
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: start.Add(-time.Hour).UnixNano()}, Region: "us-east-1"}}
	fromEast := xregion.Record{Key: "customer/42", Value: []byte("7 Oak Ave"),
		Version: xregion.Version{Time: eastClock.Now(), Region: "us-east-1"}, Base: v0.Version}
	fromWest := xregion.Record{Key: "customer/42", Value: []byte("9 Pine Rd"),
		Version: xregion.Version{Time: westClock.Now(), Region: "eu-west-1"}, Base: v0.Version}

	show := func(region string, r *lww.Resolver, local, incoming xregion.Record) {
		res, err := r.Resolve(local, incoming)
		if err != nil {
			fmt.Println(err)
			return
		}
		held := local
		if res.Changed {
			held = res.Record
		}
		fmt.Printf("%s keeps %q (%s)\n", region, held.Value, held.Version)
		if res.Lost != nil {
			fmt.Printf("%s ledger: %q (%s) lost\n", region, res.Lost.Value, res.Lost.Version)
		}
	}
	show("us-east-1", eastLWW, fromEast, fromWest) // east holds its own write; west's arrives
	show("eu-west-1", westLWW, fromWest, fromEast) // and the other way round
	// Output:
	// us-east-1 keeps "9 Pine Rd" (1740830400.003000000,0@eu-west-1)
	// us-east-1 ledger: "7 Oak Ave" (1740830400.000000000,0@us-east-1) lost
	// eu-west-1 keeps "9 Pine Rd" (1740830400.003000000,0@eu-west-1)
	// eu-west-1 ledger: "7 Oak Ave" (1740830400.000000000,0@us-east-1) lost
}

// ExampleResolver_Resolve_clockOffset shows a write stamped by a clock two
// seconds ahead being refused until the local wall clock catches up.
func ExampleResolver_Resolve_clockOffset() {
	wall := xregion.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	clock, _ := xregion.NewClock(wall) // DefaultMaxOffset: 500 ms
	r, _ := lww.New(clock)

	ahead := xregion.Timestamp{WallTime: wall.Now().Add(2 * time.Second).UnixNano()}
	incoming := xregion.Record{Key: "customer/42", Value: []byte("7 Oak Ave"),
		Version: xregion.Version{Time: ahead, Region: "eu-west-1"}}

	_, err := r.Resolve(xregion.Record{}, incoming)
	fmt.Println(errors.Is(err, xregion.ErrClockOffset))
	fmt.Println(err)

	wall.Advance(1600 * time.Millisecond) // 400 ms behind: within the offset
	res, err := r.Resolve(xregion.Record{}, incoming)
	fmt.Println(res.Changed, err)
	// Output:
	// true
	// lww: refuse key "customer/42" version 1740830402.000000000,0@eu-west-1: xregion: remote timestamp 1740830402.000000000,0 is 2s ahead of the local clock, more than the maximum offset 500ms
	// true <nil>
}
