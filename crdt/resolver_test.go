package crdt

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// newTestResolver returns region's resolver on a clock reading an hour
// after t0, so that no test version is refused as being in the future.
func newTestResolver(t testing.TB, region xregion.Region) (*Resolver, *xregion.Clock) {
	t.Helper()
	clock, err := xregion.NewClock(xregion.NewManualClock(t0.Add(time.Hour)))
	require.NoError(t, err)
	r, err := NewResolver(region, clock)
	require.NoError(t, err)
	return r, clock
}

func ver(ms int64, r xregion.Region) xregion.Version { return xregion.Version{Time: ts(ms), Region: r} }

func rec(s State, v xregion.Version) xregion.Record {
	return xregion.Record{Key: "k", Value: encoded(s), Version: v}
}

func counter(t testing.TB, pairs ...any) GCounter {
	var c GCounter
	for i := 0; i < len(pairs); i += 2 {
		d, err := c.Inc(pairs[i].(xregion.Region), uint64(pairs[i+1].(int)))
		require.NoError(t, err)
		c = c.Merge(d)
	}
	return c
}

func TestNewResolver(t *testing.T) {
	clock, err := xregion.NewClock(xregion.SystemClock{})
	require.NoError(t, err)
	_, err = NewResolver(ra, nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = NewResolver("", clock)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	r, err := NewResolver(ra, clock)
	require.NoError(t, err)
	require.NoError(t, xregion.ValidateTable("counters", r))
}

func TestResolver_Resolve(t *testing.T) {
	res, _ := newTestResolver(t, rc)
	a := rec(counter(t, ra, 2), ver(10, ra))
	b := rec(counter(t, rb, 3), ver(20, rb))
	b.Base, b.Epoch = ver(5, rb), 0

	t.Run("NoLocalStoresIncoming", func(t *testing.T) {
		got, err := res.Resolve(xregion.Record{}, a)
		require.NoError(t, err)
		require.True(t, got.Changed)
		require.True(t, a.Equal(got.Record))
		require.Nil(t, got.Lost)
	})
	t.Run("Merges", func(t *testing.T) {
		for _, pair := range [][2]xregion.Record{{a, b}, {b, a}} {
			got, err := res.Resolve(pair[0], pair[1])
			require.NoError(t, err)
			require.True(t, got.Changed)
			require.Nil(t, got.Lost, "CRDTs lose nothing")
			require.Equal(t, enc(counter(t, ra, 2, rb, 3)), string(got.Record.Value))
			require.Equal(t, b.Version, got.Record.Version, "the greater version")
			require.Equal(t, b.Base, got.Record.Base, "base from the record with the greater version")
			require.Equal(t, "k", got.Record.Key)
			require.NoError(t, got.Check("t", pair[1]))
		}
	})
	t.Run("ReplayIsNoOp", func(t *testing.T) {
		merged, err := res.Resolve(a, b)
		require.NoError(t, err)
		for _, in := range []xregion.Record{a, b, merged.Record} {
			got, err := res.Resolve(merged.Record, in)
			require.NoError(t, err)
			require.False(t, got.Changed)
			require.Equal(t, xregion.Record{}, got.Record)
		}
	})
	t.Run("NewerVersionOfKnownStateMovesTheVersion", func(t *testing.T) {
		// Regions that applied the same writes in different orders must
		// hold identical records, versions included, or failback would
		// find them different forever.
		older := rec(counter(t, ra, 2, rb, 3), ver(5, ra))
		newer := rec(counter(t, ra, 2), ver(30, ra))
		got, err := res.Resolve(older, newer)
		require.NoError(t, err)
		require.True(t, got.Changed)
		require.Equal(t, older.Value, got.Record.Value)
		require.Equal(t, newer.Version, got.Record.Version)
	})
	t.Run("EqualVersionsTieOnBase", func(t *testing.T) {
		x := rec(counter(t, ra, 1), ver(40, ra))
		y := rec(counter(t, ra, 1, rb, 1), ver(40, ra))
		y.Base = ver(1, rb)
		xy, err := res.Resolve(x, y)
		require.NoError(t, err)
		yx, err := res.Resolve(y, x)
		require.NoError(t, err)
		require.True(t, xy.Record.Equal(y), "same record either way")
		require.False(t, yx.Changed)
	})
	t.Run("DoesNotModifyInputs", func(t *testing.T) {
		la, lb := a.Clone(), b.Clone()
		got, err := res.Resolve(la, lb)
		require.NoError(t, err)
		require.True(t, la.Equal(a))
		require.True(t, lb.Equal(b))
		got.Record.Value[0] ^= 0xff
		require.True(t, la.Equal(a), "the result shares no memory with the inputs")
		require.True(t, lb.Equal(b))
	})
}

func TestResolver_Resolve_refuses(t *testing.T) {
	res, _ := newTestResolver(t, rc)
	good := rec(counter(t, ra, 2), ver(10, ra))
	set, err := ORSet{}.Add(rb, "x")
	require.NoError(t, err)
	for name, c := range map[string]struct {
		local, incoming xregion.Record
		is              error
	}{
		"zero version":        {incoming: xregion.Record{Key: "k", Value: encoded(GCounter{})}, is: xregion.ErrInvalid},
		"incoming tombstone":  {local: good, incoming: xregion.Record{Key: "k", Version: ver(20, rb), Tombstone: true}, is: xregion.ErrInvalid},
		"stored tombstone":    {local: xregion.Record{Key: "k", Version: ver(5, rb), Tombstone: true}, incoming: good, is: xregion.ErrInvalid},
		"other key":           {local: xregion.Record{Key: "j", Value: good.Value, Version: ver(5, rb)}, incoming: good, is: xregion.ErrInvalid},
		"corrupt incoming":    {local: good, incoming: xregion.Record{Key: "k", Value: []byte{1, 1, 5}, Version: ver(20, rb)}, is: xregion.ErrCorrupt},
		"corrupt first write": {incoming: xregion.Record{Key: "k", Value: []byte("not a crdt"), Version: ver(20, rb)}, is: xregion.ErrCorrupt},
		"corrupt stored":      {local: xregion.Record{Key: "k", Value: nil, Version: ver(5, rb)}, incoming: good, is: xregion.ErrCorrupt},
		"other type":          {local: good, incoming: rec(set, ver(20, rb)), is: ErrTypeMismatch},
		"far future":          {local: good, incoming: rec(counter(t, rb, 1), xregion.Version{Time: xregion.Timestamp{WallTime: t0.Add(2 * time.Hour).UnixNano()}, Region: rb}), is: xregion.ErrClockOffset},
	} {
		t.Run(name, func(t *testing.T) {
			local, incoming := c.local.Clone(), c.incoming.Clone()
			_, err := res.Resolve(local, incoming)
			require.ErrorIs(t, err, c.is)
			require.Contains(t, err.Error(), `"k"`, "the error names the key")
			require.True(t, local.Equal(c.local) && incoming.Equal(c.incoming), "inputs untouched")
		})
	}
	t.Run("PNCounterLimits", func(t *testing.T) {
		p2, _ := NewPNCounter(10, 2)
		p4, _ := NewPNCounter(10, 4)
		_, err := res.Resolve(rec(p2, ver(1, ra)), rec(p4, ver(2, rb)))
		require.ErrorIs(t, err, ErrTypeMismatch)
		require.Contains(t, err.Error(), "pncounter(10,4)")
	})
}

// TestResolver_staleWrite: a local write stamped before the stored version
// of another region is refused, since merged it would carry that region's
// version and this region's shipper would never send it; the clock has
// been moved past the stored version, so stamping again succeeds.
func TestResolver_staleWrite(t *testing.T) {
	wall := xregion.NewManualClock(t0)
	clock, err := xregion.NewClock(wall)
	require.NoError(t, err)
	res, err := NewResolver(ra, clock)
	require.NoError(t, err)

	// rb's clock runs 100 ms ahead; its write arrives first.
	stored := rec(counter(t, rb, 1), xregion.Version{Time: xregion.Timestamp{WallTime: t0.Add(100 * time.Millisecond).UnixNano()}, Region: rb})
	local := rec(counter(t, ra, 1), xregion.Version{Time: xregion.Timestamp{WallTime: t0.Add(time.Millisecond).UnixNano()}, Region: ra})
	first, err := res.Resolve(xregion.Record{}, stored)
	require.NoError(t, err)

	_, err = res.Resolve(first.Record, local)
	var se *StaleWriteError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, ErrStaleWrite)
	require.True(t, IsRetryable(err))
	require.False(t, IsRetryable(xregion.ErrCorrupt))
	require.Equal(t, stored.Version, se.Stored)
	require.Equal(t, local.Version, se.Write)

	// Stamp again, with the clock that Resolve moved.
	again, err := Write(clock, ra, "k", xregion.Version{}, counter(t, ra, 1))
	require.NoError(t, err)
	require.True(t, stored.Version.Less(again.Version))
	got, err := res.Resolve(first.Record, again)
	require.NoError(t, err)
	require.Equal(t, ra, got.Record.Version.Region, "the merged record is this region's to ship")

	// A stale write that changes nothing is no error: there is nothing to
	// ship.
	got, err = res.Resolve(first.Record, rec(GCounter{}, local.Version))
	require.NoError(t, err)
	require.False(t, got.Changed)
}

// TestResolver_converges: records resolved in any order end as the same
// record in every region: the merge of all states, with the greatest
// version.
func TestResolver_converges(t *testing.T) {
	t.Parallel()
	res, _ := newTestResolver(t, "me-central-1") // never the writer: no stale writes
	historySeeds(t, 300, func(t *testing.T, rng *rand.Rand) {
		s := newSim(t, rng, ORSet.Merge, ORSet{})
		var writes []xregion.Record
		s.run(40, func(r int) {
			s.mutate(r, func(set ORSet) event {
				x := setElems[rng.IntN(len(setElems))]
				if rng.IntN(3) == 0 {
					return event{op: "remove", delta: set.Remove(x)}
				}
				d, err := set.Add(regions[r], x)
				if err != nil {
					t.Fatal(err)
				}
				return event{op: "add", delta: d}
			})
			// Ship a delta or the whole state, as a record.
			var st State = s.events[len(s.events)-1].delta
			if rng.IntN(2) == 0 {
				st = s.state[r]
			}
			w := rec(st, ver(int64(len(writes)+rng.IntN(5)), regions[r]))
			w.Epoch = uint64(rng.IntN(2))
			writes = append(writes, w)
		}, func(int) {})
		var want string
		for i := range 4 {
			order := rng.Perm(len(writes))
			var held xregion.Record
			for _, k := range order {
				got, err := res.Resolve(held, writes[k])
				if err != nil {
					t.Fatal(err)
				}
				if got.Lost != nil {
					t.Fatal("a CRDT resolution lost a write")
				}
				if got.Changed {
					if err := got.Check("t", writes[k]); err != nil {
						t.Fatal(err)
					}
					held = got.Record
				}
			}
			if len(writes) == 0 {
				return
			}
			got := string(xregion.AppendRecord(nil, held))
			if i == 0 {
				want = got
				same(t, enc(s.state[0]), string(held.Value), "the merge of every write")
			}
			same(t, want, got, "every order of arrival gives the same record")
		}
	})
}

func TestWrite(t *testing.T) {
	wall := xregion.NewManualClock(t0)
	clock, err := xregion.NewClock(wall)
	require.NoError(t, err)
	d, err := GCounter{}.Inc(ra, 1)
	require.NoError(t, err)

	w, err := Write(clock, ra, "page/home", xregion.Version{}, d)
	require.NoError(t, err)
	require.Equal(t, "page/home", w.Key)
	require.Equal(t, ra, w.Version.Region)
	require.Equal(t, enc(d), string(w.Value))
	require.NoError(t, w.Validate())

	base := ver(5_000, rb) // read from a record stamped 5 s ahead of the wall clock
	w, err = Write(clock, ra, "page/home", base, d)
	require.Error(t, err, "5 s ahead is beyond the maximum offset")
	require.ErrorIs(t, err, xregion.ErrClockOffset)
	base = ver(100, rb)
	w, err = Write(clock, ra, "page/home", base, d)
	require.NoError(t, err)
	require.True(t, base.Less(w.Version), "stamped after its base")
	require.Equal(t, base, w.Base)

	_, err = Write(clock, ra, "page/home", xregion.Version{}, nil)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = Write(nil, ra, "page/home", xregion.Version{}, d)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = Write(clock, "", "page/home", xregion.Version{}, d)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = Write(clock, ra, "", xregion.Version{}, d)
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		is   []error
		text string
	}{
		{&ScaleError{Amount: "0.001", Places: 3, Scale: 2}, []error{ErrScale, xregion.ErrInvalid}, "crdt: amount 0.001 has 3 decimal places; the counter's scale is 2"},
		{&OverflowError{What: "pncounter value", Value: "1000.00", Limit: "999.99"}, []error{ErrOverflow}, "crdt: pncounter value 1000.00 is beyond the limit 999.99"},
		{&InsufficientRightsError{Region: ra, Rights: 2, Want: 3, Op: "decrement"}, []error{ErrInsufficientRights}, "crdt: decrement of 3 in region ap-south-1 refused: the region holds 2 rights"},
		{&TypeMismatchError{Local: "orset", Incoming: "gcounter"}, []error{ErrTypeMismatch}, "crdt: cannot merge gcounter into orset"},
		{&StaleWriteError{Key: "k", Write: ver(1, ra), Stored: ver(2, rb)}, []error{ErrStaleWrite}, `crdt: key "k": local write`},
	} {
		for _, is := range c.is {
			require.ErrorIs(t, c.err, is)
		}
		require.True(t, strings.HasPrefix(c.err.Error(), c.text), c.err.Error())
		require.Equal(t, errors.Is(c.err, ErrStaleWrite), IsRetryable(c.err))
	}
}
