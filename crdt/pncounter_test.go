package crdt

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// exact adds decimals without rounding: 100 digits is far beyond anything
// the tests add up.
var exact = apd.BaseContext.WithPrecision(100)

func dec(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestPNCounter_reference: the value is, exactly, the decimal sum of the
// amounts a region knows; an amount is refused exactly when it needs more
// places than the scale or takes the region's value beyond the precision.
func TestPNCounter_reference(t *testing.T) {
	const precision, scale = 6, 2 // values up to ±9999.99
	limit := dec("9999.99")
	t.Parallel()
	historySeeds(t, 2000, func(t *testing.T, rng *rand.Rand) {
		start, err := NewPNCounter(precision, scale)
		require.NoError(t, err)
		s := newSim(t, rng, PNCounter.Merge, start)
		sum := func(known uint64) *apd.Decimal {
			total := new(apd.Decimal)
			for k := known; k != 0; k &= k - 1 {
				if _, err := exact.Add(total, total, s.events[bits.TrailingZeros64(k)].amount); err != nil {
					t.Fatal(err)
				}
			}
			return total
		}
		s.run(100, func(r int) {
			s.mutate(r, func(c PNCounter) event {
				// Amounts of up to 7 digits with 0 to 3 decimal places: some
				// need more places than the scale, some overflow.
				amount := apd.New(rng.Int64N(3_000_001)-1_500_000, -int32(rng.IntN(4)))
				if rng.IntN(20) == 0 {
					amount = apd.New(rng.Int64N(20)-10, int32(rng.IntN(5)+3)) // up to ±9E+7
				}
				d, err := c.Add(regions[r], amount)
				var red apd.Decimal
				red.Reduce(amount)
				cur := sum(s.know[r])
				next := new(apd.Decimal)
				_, _ = exact.Add(next, cur, amount)
				var abs, absAmount, absCur apd.Decimal
				abs.Abs(next)
				absAmount.Abs(amount)
				absCur.Abs(cur)
				switch {
				case red.Exponent < -scale:
					var se *ScaleError
					if !errors.As(err, &se) {
						t.Fatalf("amount %s: want a scale error, got %v", amount, err)
					}
					same(t, int(-red.Exponent), se.Places)
					same(t, scale, se.Scale)
					return event{}
				case absAmount.Cmp(limit) > 0 || abs.Cmp(limit) > 0 && abs.Cmp(&absCur) >= 0 && !amount.IsZero():
					var oe *OverflowError
					if !errors.As(err, &oe) {
						t.Fatalf("amount %s on %s: want an overflow error, got %v", amount, cur, err)
					}
					same(t, "9999.99", oe.Limit)
					return event{}
				case err != nil:
					t.Fatalf("amount %s on %s: %v", amount, cur, err)
				}
				op := "add"
				switch {
				case amount.IsZero():
					// The empty delta carries no running total.
					return event{op: "zero", amount: amount, delta: d}
				case amount.Negative:
					op = "sub"
				}
				return event{op: op, amount: amount, delta: d, implies: s.priorOf(r, op, "")}
			})
		}, func(r int) {
			got, want := s.state[r].Value(), sum(s.know[r])
			if got.Cmp(want) != 0 || got.Exponent != -scale {
				t.Fatalf("region %d holds %s, want %s", r, got, want)
			}
		})
		checkLaws(t, rng, s.pool, PNCounter.Merge, 10)
	})
}

func TestNewPNCounter(t *testing.T) {
	for _, c := range []struct{ precision, scale int }{{0, 0}, {-1, 0}, {39, 2}, {10, 11}, {10, -1}} {
		_, err := NewPNCounter(c.precision, c.scale)
		require.ErrorIs(t, err, xregion.ErrInvalid, "NUMERIC(%d,%d)", c.precision, c.scale)
	}
	for _, c := range []struct{ precision, scale int }{{1, 0}, {1, 1}, {38, 0}, {38, 38}, {18, 2}} {
		pn, err := NewPNCounter(c.precision, c.scale)
		require.NoError(t, err)
		require.Equal(t, c.precision, pn.Precision())
		require.Equal(t, c.scale, pn.Scale())
	}
}

func TestPNCounter_Add(t *testing.T) {
	money, err := NewPNCounter(8, 2) // up to 999999.99
	require.NoError(t, err)
	add := func(t *testing.T, c PNCounter, amount string) (PNCounter, error) {
		d, err := c.Add(ra, dec(amount))
		if err != nil {
			return c, err
		}
		return c.Merge(d), nil
	}
	t.Run("Exact", func(t *testing.T) {
		// 0.1 + 0.2 is 0.3, not 0.30000000000000004.
		c := money
		for _, a := range []string{"0.1", "0.2", "-0.05", "1.50", "1e2", "-0.25"} {
			c, err = add(t, c, a)
			require.NoError(t, err)
		}
		require.Equal(t, "101.50", c.Value().String())
	})
	t.Run("Scale", func(t *testing.T) {
		_, err := add(t, money, "0.005")
		var se *ScaleError
		require.ErrorAs(t, err, &se)
		require.ErrorIs(t, err, ErrScale)
		require.ErrorIs(t, err, xregion.ErrInvalid)
		require.Equal(t, ScaleError{Amount: "0.005", Places: 3, Scale: 2}, *se)
		require.Equal(t, "crdt: amount 0.005 has 3 decimal places; the counter's scale is 2", err.Error())
		_, err = add(t, money, "1.2300000")
		require.NoError(t, err, "trailing zeros are no places: nothing is rounded")
	})
	t.Run("Overflow", func(t *testing.T) {
		c, err := add(t, money, "999999.99")
		require.NoError(t, err)
		_, err = add(t, c, "0.01")
		var oe *OverflowError
		require.ErrorAs(t, err, &oe)
		require.ErrorIs(t, err, ErrOverflow)
		require.Equal(t, OverflowError{What: "pncounter value", Value: "1000000.00", Limit: "999999.99"}, *oe)
		_, err = add(t, money, "-1000000")
		require.ErrorAs(t, err, &oe)
		require.Equal(t, "pncounter amount", oe.What)
		_, err = add(t, money, "1E+100000")
		require.ErrorIs(t, err, ErrOverflow)
		_, err = add(t, money, "1E+50")
		require.ErrorIs(t, err, ErrOverflow)
		c, err = add(t, c, "-999999.99")
		require.NoError(t, err)
		c, err = add(t, c, "-999999.99")
		require.NoError(t, err, "the limit bounds the magnitude, both ways")
		require.Equal(t, "-999999.99", c.Value().String())
	})
	t.Run("Invalid", func(t *testing.T) {
		for name, amount := range map[string]*apd.Decimal{"nil": nil, "NaN": {Form: apd.NaN}, "Inf": {Form: apd.Infinite}} {
			_, err := money.Add(ra, amount)
			require.ErrorIs(t, err, xregion.ErrInvalid, name)
		}
		_, err := PNCounter{}.Add(ra, dec("1"))
		require.ErrorIs(t, err, xregion.ErrInvalid, "a counter must declare its limits")
		_, err = money.Add("", dec("1"))
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
	t.Run("ZeroAmount", func(t *testing.T) {
		d, err := money.Add(ra, dec("0.000"))
		require.NoError(t, err)
		require.Equal(t, enc(money), enc(d), "an empty delta, with the counter's limits")
	})
	t.Run("RunningTotalsOutgrowThePrecision", func(t *testing.T) {
		// A balance that goes up and down forever keeps growing its
		// running totals; they may pass the precision by totalHeadroom
		// digits, so the counter keeps working.
		c := money
		for range 100 {
			c, err = add(t, c, "999999.99")
			require.NoError(t, err)
			c, err = add(t, c, "-999999.99")
			require.NoError(t, err)
		}
		require.Equal(t, "0.00", c.Value().String())
		_, err = Decode(encoded(c))
		require.NoError(t, err)
	})
}

// TestPNCounter_Merge_widens: counters declared with different limits
// merge into the wider declaration, lawfully and without rounding; the
// zero counter is the bottom.
func TestPNCounter_Merge_widens(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pool []PNCounter
	for _, decl := range []struct{ p, s int }{{6, 2}, {10, 4}, {3, 0}, {38, 38}} {
		c, err := NewPNCounter(decl.p, decl.s)
		require.NoError(t, err)
		pool = append(pool, c)
		for range 20 {
			r := regions[rng.IntN(3)]
			amount := apd.New(rng.Int64N(199)-99, -int32(rng.IntN(decl.s+1)))
			if d, err := c.Add(r, amount); err == nil {
				c = c.Merge(d)
				pool = append(pool, c, d)
			}
		}
	}
	pool = append(pool, PNCounter{})
	checkLaws(t, rng, pool, PNCounter.Merge, 3000)

	a, _ := NewPNCounter(6, 2)
	b, _ := NewPNCounter(10, 4)
	da, err := a.Add(ra, dec("1234.56"))
	require.NoError(t, err)
	db, err := b.Add(rb, dec("0.0001"))
	require.NoError(t, err)
	m := da.Merge(db)
	require.Equal(t, 4, m.Scale())
	require.Equal(t, 10, m.Precision(), "max scale 4 + max integer digits 6")
	require.Equal(t, "1234.5601", m.Value().String())
	require.Equal(t, enc(a), enc(a.Merge(PNCounter{})))

	_, err = Merge(a, b)
	var tm *TypeMismatchError
	require.ErrorAs(t, err, &tm)
	require.Equal(t, "pncounter(6,2)", tm.Local)
	require.Equal(t, "pncounter(10,4)", tm.Incoming)
	require.True(t, strings.Contains(err.Error(), "cannot merge"))
}
