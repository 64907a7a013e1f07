package crdt

import (
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// TestBoundedCounter_reference: the balance is the increments minus the
// decrements a region knows; a decrement or transfer is refused exactly when
// the region's rights, counted naively from the events it knows, fall
// short; and no region, nor any merge of regions' states, ever holds a
// balance below zero, at any step of any history, with deltas delivered in
// any order (a decrement's or transfer's delta carries what its region knew
// when it made it).
func TestBoundedCounter_reference(t *testing.T) {
	t.Parallel()
	historySeeds(t, 2000, func(t *testing.T, rng *rand.Rand) {
		s := newSim(t, rng, BoundedCounter.Merge, BoundedCounter{})
		// rights counts region r's rights from the events of known.
		rights := func(known uint64, r int) int64 {
			var v int64
			for k := known; k != 0; k &= k - 1 {
				e := s.events[bits.TrailingZeros64(k)]
				switch {
				case e.op == "inc" && e.region == r, e.op == "transfer to "+itoa(r):
					v += int64(e.n)
				case e.op == "dec" && e.region == r, len(e.op) > 8 && e.op[:8] == "transfer" && e.region == r:
					v -= int64(e.n)
				}
			}
			return v
		}
		s.run(100, func(r int) {
			s.mutate(r, func(c BoundedCounter) event {
				n := uint64(rng.IntN(25) + 1)
				have := rights(s.know[r], r)
				var d BoundedCounter
				var err error
				var e event
				switch k := rng.IntN(10); {
				case k < 3:
					d, err = c.Inc(regions[r], n)
					e = event{op: "inc", n: n, implies: s.priorOf(r, "inc", "")}
				case k < 8:
					d, err = c.Dec(regions[r], n)
					e = event{op: "dec", n: n, implies: s.know[r]}
				default:
					to := (r + 1 + rng.IntN(2)) % 3
					d, err = c.Transfer(regions[r], regions[to], n)
					e = event{op: "transfer to " + itoa(to), n: n, implies: s.know[r]}
				}
				if e.op != "inc" && have < int64(n) {
					var ie *InsufficientRightsError
					if !errors.As(err, &ie) {
						t.Fatalf("%s of %d with %d rights: want refusal, got %v", e.op, n, have, err)
					}
					same(t, InsufficientRightsError{Region: regions[r], Rights: uint64(have), Want: n, Op: ie.Op}, *ie)
					return event{}
				}
				if err != nil {
					t.Fatalf("%s of %d with %d rights: %v", e.op, n, have, err)
				}
				e.delta = d
				return e
			})
		}, func(r int) {
			st := s.state[r]
			var want int64
			for k := s.know[r]; k != 0; k &= k - 1 {
				switch e := s.events[bits.TrailingZeros64(k)]; e.op {
				case "inc":
					want += int64(e.n)
				case "dec":
					want -= int64(e.n)
				}
			}
			same(t, want, signed(st))
			for i, reg := range regions {
				same(t, uint64(max(0, rights(s.know[r], i))), st.Rights(reg))
			}
			// Never below zero: not here, not in any merge of what the
			// regions hold now.
			for x := range 3 {
				if signed(st.Merge(s.state[x])) < 0 {
					t.Fatalf("balance below zero")
				}
			}
			if signed(s.state[0].Merge(s.state[1]).Merge(s.state[2])) < 0 {
				t.Fatalf("balance below zero")
			}
		})
		checkLaws(t, rng, s.pool, BoundedCounter.Merge, 10)
	})
}

// signed returns c's balance without clamping it at zero.
func signed(c BoundedCounter) int64 {
	plus, minus := c.totals()
	if plus.less(minus) {
		return -int64(minus.sub(plus).lo)
	}
	return int64(plus.sub(minus).lo)
}

func TestBoundedCounter_escrow(t *testing.T) {
	// Ten items in stock, stocked in ra. Only ra can sell until it hands
	// rights to the others.
	var c BoundedCounter
	apply := func(d BoundedCounter, err error) {
		t.Helper()
		require.NoError(t, err)
		c = c.Merge(d)
	}
	apply(c.Inc(ra, 10))
	_, err := c.Dec(rb, 1)
	var ie *InsufficientRightsError
	require.ErrorAs(t, err, &ie)
	require.ErrorIs(t, err, ErrInsufficientRights)
	require.Equal(t, InsufficientRightsError{Region: rb, Rights: 0, Want: 1, Op: "decrement"}, *ie)
	require.Equal(t, "crdt: decrement of 1 in region eu-west-1 refused: the region holds 0 rights", err.Error())

	apply(c.Transfer(ra, rb, 4))
	apply(c.Transfer(ra, rc, 3))
	require.Equal(t, uint64(3), c.Rights(ra))
	require.Equal(t, uint64(4), c.Rights(rb))
	require.Equal(t, uint64(3), c.Rights(rc))
	require.Equal(t, uint64(10), c.Value(), "transfers move rights, not stock")

	// The regions now sell concurrently, each within its rights.
	a, b, cc := c, c, c
	for _, x := range []struct {
		st *BoundedCounter
		r  xregion.Region
		n  uint64
	}{{&a, ra, 3}, {&b, rb, 4}, {&cc, rc, 2}} {
		d, err := x.st.Dec(x.r, x.n)
		require.NoError(t, err)
		*x.st = x.st.Merge(d)
	}
	_, err = a.Dec(ra, 1)
	require.ErrorIs(t, err, ErrInsufficientRights)
	merged := a.Merge(b).Merge(cc)
	require.Equal(t, uint64(1), merged.Value())
	require.Equal(t, uint64(1), merged.Rights(rc))

	_, err = c.Transfer(rb, rb, 1)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = c.Transfer(rb, rc, 5)
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "transfer", ie.Op)
	require.Equal(t, uint64(4), ie.Rights)
}

// TestBoundedCounter_deltaAlone: a decrement's or a transfer's delta merged
// into a region that has seen none of the increments and transfers it
// spends (a synchronous replicator stages the writer's records, deltas,
// and a failover applies them as they are) still reads a balance that is
// the sum of the regions' rights, never below zero.
func TestBoundedCounter_deltaAlone(t *testing.T) {
	ok := func(d BoundedCounter, err error) BoundedCounter {
		t.Helper()
		require.NoError(t, err)
		return d
	}
	var a BoundedCounter // ra's view
	a = a.Merge(ok(a.Inc(ra, 10)))
	transfer := ok(a.Transfer(ra, rb, 10))
	a = a.Merge(transfer)
	b := BoundedCounter{}.Merge(transfer) // rb learns of the transfer alone
	require.Equal(t, uint64(10), b.Rights(rb))
	spend := ok(b.Dec(rb, 10))
	b = b.Merge(spend)

	// rc has stocked 5 of its own and seen nothing else.
	c := ok(BoundedCounter{}.Inc(rc, 5))
	for _, got := range []BoundedCounter{c.Merge(spend), c.Merge(transfer).Merge(spend), c.Merge(spend).Merge(a)} {
		require.Equal(t, int64(5), signed(got), "the balance is rc's 5: ra's 10 less rb's 10")
		require.Equal(t, uint64(5), got.Value())
		require.Equal(t, got.Rights(ra)+got.Rights(rb)+got.Rights(rc), got.Value())
	}
	// Merged into the state it was made from, or a later one, the delta
	// does what the decrement alone would.
	require.Equal(t, enc(b), enc(b.Merge(spend)))
	require.Equal(t, enc(a.Merge(b)), enc(a.Merge(spend)))
}

func TestBoundedCounter_limits(t *testing.T) {
	c := BoundedCounter{}
	d, err := c.Inc(ra, math.MaxUint64)
	require.NoError(t, err)
	c = c.Merge(d)
	_, err = c.Inc(rb, 1)
	require.ErrorIs(t, err, ErrOverflow)
	// Concurrent increments may pass 2^64-1 together; the value saturates.
	other, err := BoundedCounter{}.Inc(rb, 5)
	require.NoError(t, err)
	require.Equal(t, uint64(math.MaxUint64), c.Merge(other).Value())
	_, err = c.Merge(other).Inc(rc, 1)
	require.ErrorIs(t, err, ErrOverflow)

	for _, n := range []uint64{0} {
		for _, f := range []func() (BoundedCounter, error){
			func() (BoundedCounter, error) { return c.Inc(ra, n) },
			func() (BoundedCounter, error) { return c.Dec(ra, n) },
			func() (BoundedCounter, error) { return c.Transfer(ra, rb, n) },
		} {
			d, err := f()
			require.NoError(t, err)
			require.Equal(t, enc(BoundedCounter{}), enc(d), "a zero amount is the empty delta")
		}
	}
	_, err = c.Inc("", 1)
	require.ErrorIs(t, err, xregion.ErrInvalid)
	_, err = c.Transfer(ra, "Bad", 1)
	require.ErrorIs(t, err, xregion.ErrInvalid)
}
