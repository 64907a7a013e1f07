package crdt

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/cockroachdb/apd/v3"

	"github.com/xregion/xregion"
)

// MaxPrecision is the most significant digits a PNCounter may be declared
// with, as SQL's NUMERIC(38, s).
const MaxPrecision = 38

// totalHeadroom is how many digits a region's running totals may grow
// beyond the declared precision. The totals only grow, also while the value
// goes up and down; 20 more digits is 10^20 full-size amounts, more than a
// region can ever add.
const totalHeadroom = 20

// PNCounter is a counter of exact decimal amounts that go up and down: money,
// stock levels, quotas. Amounts are apd decimals, never floats, and the
// counter is declared, as a SQL column is, with a precision (significant
// digits) and a scale (digits after the decimal point) that every amount and
// every value must fit: an amount needing more decimal places is refused
// with a *ScaleError rather than rounded, and an amount or a value beyond
// the precision with an *OverflowError.
//
// Each region keeps two running totals in units of 10^-scale, what it added
// and what it subtracted; the value is the sum of the first minus the sum
// of the second, exact to the last digit. Merge keeps, per region, the
// larger of each total.
//
// A PNCounter can go negative; the precision bounds its magnitude. The
// limit is checked against the region's own view when an amount is added:
// amounts added concurrently in several regions can together pass it (as
// they can take the value below zero), and the merged value is still exact.
// Where a bound must hold everywhere, use BoundedCounter.
//
// Make one with NewPNCounter; the zero PNCounter has no limits declared, and
// only merges (it is the empty state every counter starts from). A
// PNCounter is an immutable value, safe for concurrent use.
type PNCounter struct {
	scale     uint8 // digits after the point
	intDigits uint8 // digits before it: precision - scale
	entries   []pnEntry
}

type pnEntry struct {
	region xregion.Region
	p, n   *big.Int // added and subtracted, in units; nil for zero; never modified
}

// NewPNCounter returns an empty counter declared as NUMERIC(precision,
// scale): values and amounts have at most precision significant digits,
// scale of them after the decimal point. NewPNCounter(18, 2) holds amounts
// such as 1234567890123456.78. precision must be 1 to MaxPrecision and scale
// 0 to precision; an *xregion.InvalidError otherwise.
func NewPNCounter(precision, scale int) (PNCounter, error) {
	if precision < 1 || precision > MaxPrecision {
		return PNCounter{}, invalid("pncounter precision", "%d; want 1 to %d significant digits", precision, MaxPrecision)
	}
	if scale < 0 || scale > precision {
		return PNCounter{}, invalid("pncounter scale", "%d; want 0 to the precision %d", scale, precision)
	}
	return PNCounter{scale: uint8(scale), intDigits: uint8(precision - scale)}, nil
}

// Type returns TypePNCounter.
func (PNCounter) Type() Type { return TypePNCounter }

// Precision returns the declared number of significant digits (0 for the
// zero PNCounter).
func (c PNCounter) Precision() int { return int(c.scale) + int(c.intDigits) }

// Scale returns the declared number of digits after the decimal point.
func (c PNCounter) Scale() int { return int(c.scale) }

// Value returns the counter's exact value, with exactly Scale digits after
// the decimal point ("12.30" at scale 2). The caller owns the result.
func (c PNCounter) Value() *apd.Decimal { return c.decimal(c.units()) }

// units returns the value in units of 10^-scale.
func (c PNCounter) units() *big.Int {
	v := new(big.Int)
	for _, e := range c.entries {
		if e.p != nil {
			v.Add(v, e.p)
		}
		if e.n != nil {
			v.Sub(v, e.n)
		}
	}
	return v
}

func (c PNCounter) decimal(units *big.Int) *apd.Decimal {
	d := new(apd.Decimal)
	d.Coeff.SetMathBigInt(new(big.Int).Abs(units))
	d.Negative = units.Sign() < 0
	d.Exponent = -int32(c.scale)
	return d
}

// limit is the largest magnitude a value may have, in units.
func (c PNCounter) limit() *big.Int { return new(big.Int).Sub(pow10(c.Precision()), bigOne) }

// totalLimit is the largest a region's running total may grow, in units.
func (c PNCounter) totalLimit() *big.Int {
	return new(big.Int).Sub(pow10(c.Precision()+totalHeadroom), bigOne)
}

// limitString formats the largest magnitude allowed, such as "999.99".
func (c PNCounter) limitString() string { return c.decimal(c.limit()).String() }

func (c PNCounter) find(r xregion.Region) (int, bool) {
	return slices.BinarySearchFunc(c.entries, r, func(e pnEntry, r xregion.Region) int { return cmpRegion(e.region, r) })
}

// Add returns the delta that adds amount in region r (a negative amount
// subtracts): merge it into c to apply it. Nothing is ever rounded. Errors:
// a *ScaleError if amount has more decimal places than the scale (trailing
// zeros do not count: 1.50 fits scale 1); an *OverflowError if amount, or
// the value it would give c, has more digits than the precision allows
// (unless c is already beyond the limit and the amount brings it closer to
// zero); an
// *xregion.InvalidError for an invalid region, a nil, NaN or infinite
// amount, or a counter made without NewPNCounter.
func (c PNCounter) Add(r xregion.Region, amount *apd.Decimal) (PNCounter, error) {
	if c.Precision() == 0 {
		return PNCounter{}, invalid("pncounter", "no precision declared; make counters with NewPNCounter")
	}
	if err := r.Validate(); err != nil {
		return PNCounter{}, err
	}
	if amount == nil || amount.Form != apd.Finite {
		return PNCounter{}, invalid("pncounter amount", "%v; want a finite decimal", amount)
	}
	delta := PNCounter{scale: c.scale, intDigits: c.intDigits}
	if amount.IsZero() {
		return delta, nil
	}
	units, err := c.toUnits(amount)
	if err != nil {
		return PNCounter{}, err
	}
	// Refuse a value beyond the limit, unless the amount brings it closer to
	// zero: concurrent amounts can take a merged value past the limit, and
	// the way back must stay open.
	cur := c.units()
	value := new(big.Int).Add(cur, units)
	if value.CmpAbs(c.limit()) > 0 && value.CmpAbs(cur) >= 0 {
		return PNCounter{}, &OverflowError{What: "pncounter value", Value: c.decimal(value).String(), Limit: c.limitString()}
	}
	i, ok := c.find(r)
	if !ok && len(c.entries) >= MaxReplicas {
		return PNCounter{}, invalid("pncounter amount in region "+string(r), "the counter already names %d regions, the limit", MaxReplicas)
	}
	var prev *big.Int // the running total the amount adds to
	negative := units.Sign() < 0
	if ok {
		prev = c.entries[i].p
		if negative {
			prev = c.entries[i].n
		}
	}
	sum := units.Abs(units)
	if prev != nil {
		sum = sum.Add(sum, prev)
	}
	if sum.Cmp(c.totalLimit()) > 0 {
		return PNCounter{}, &OverflowError{What: "pncounter running total of region " + string(r), Value: c.decimal(sum).String(), Limit: c.decimal(c.totalLimit()).String()}
	}
	// The delta carries only the total that moved.
	d := pnEntry{region: r, p: sum}
	if negative {
		d = pnEntry{region: r, n: sum}
	}
	delta.entries = []pnEntry{d}
	return delta, nil
}

// toUnits converts amount to units of 10^-scale, refusing anything that
// would need rounding or more digits than the precision.
func (c PNCounter) toUnits(amount *apd.Decimal) (*big.Int, error) {
	overflow := func() error {
		return &OverflowError{What: "pncounter amount", Value: amount.String(), Limit: c.limitString()}
	}
	if amount.Exponent > int32(2*MaxPrecision) {
		return nil, overflow() // a non-zero coefficient times 10^77 or more
	}
	var red apd.Decimal
	red.Reduce(amount)
	exp := int64(red.Exponent)
	if places := -exp; places > int64(c.scale) {
		return nil, &ScaleError{Amount: amount.String(), Places: int(places), Scale: int(c.scale)}
	}
	shift := exp + int64(c.scale) // >= 0 now
	if apd.NumDigits(&red.Coeff)+shift > int64(c.Precision()) {
		return nil, overflow()
	}
	units := red.Coeff.MathBigInt()
	units.Mul(units, pow10(int(shift)))
	if red.Negative {
		units.Neg(units)
	}
	return units, nil
}

// Merge returns the join of c and o: per region, the larger of each running
// total. Counters declared with different limits (a configuration error,
// which the Resolver refuses) merge into the wider declaration, the larger
// scale and the larger number of integer digits, so that no amount either
// holds is rounded; the zero PNCounter merges into anything unchanged.
func (c PNCounter) Merge(o PNCounter) PNCounter {
	out := PNCounter{scale: max(c.scale, o.scale), intDigits: max(c.intDigits, o.intDigits)}
	if c.scale == o.scale {
		switch {
		case len(o.entries) == 0 && out.intDigits == c.intDigits:
			return c
		case len(c.entries) == 0 && out.intDigits == o.intDigits:
			return o
		}
	}
	cf, of := scaleFactor(c.scale, out.scale), scaleFactor(o.scale, out.scale)
	out.entries = make([]pnEntry, 0, max(len(c.entries), len(o.entries)))
	i, j := 0, 0
	for i < len(c.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || i < len(c.entries) && c.entries[i].region < o.entries[j].region:
			out.entries = append(out.entries, c.entries[i].rescale(cf))
			i++
		case i == len(c.entries) || o.entries[j].region < c.entries[i].region:
			out.entries = append(out.entries, o.entries[j].rescale(of))
			j++
		default:
			a, b := c.entries[i].rescale(cf), o.entries[j].rescale(of)
			out.entries = append(out.entries, pnEntry{region: a.region, p: maxBig(a.p, b.p), n: maxBig(a.n, b.n)})
			i, j = i+1, j+1
		}
	}
	return out
}

func scaleFactor(from, to uint8) *big.Int {
	if from == to {
		return nil
	}
	return pow10(int(to - from))
}

func (e pnEntry) rescale(f *big.Int) pnEntry {
	if f == nil {
		return e
	}
	mul := func(x *big.Int) *big.Int {
		if x == nil {
			return nil
		}
		return new(big.Int).Mul(x, f)
	}
	return pnEntry{region: e.region, p: mul(e.p), n: mul(e.n)}
}

// maxBig returns the larger of a and b, nil counting as zero.
func maxBig(a, b *big.Int) *big.Int {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.Cmp(b) >= 0:
		return a
	}
	return b
}

// appendBody writes: scale, integer digits (uvarints), uvarint count, then
// per region (sorted): name, added, subtracted, each a minimal big-endian
// unsigned integer in units of 10^-scale.
func (c PNCounter) appendBody(b []byte) []byte {
	b = appendUvarint(b, uint64(c.scale))
	b = appendUvarint(b, uint64(c.intDigits))
	b = appendUvarint(b, uint64(len(c.entries)))
	for _, e := range c.entries {
		b = appendString(b, string(e.region))
		b = appendBig(b, e.p)
		b = appendBig(b, e.n)
	}
	return b
}

// appendBig writes a non-negative integer as uvarint length and minimal
// big-endian bytes (none for zero).
func appendBig(b []byte, x *big.Int) []byte {
	if x == nil {
		return append(b, 0)
	}
	n := (x.BitLen() + 7) / 8
	b = appendUvarint(b, uint64(n))
	b = slices.Grow(b, n)
	x.FillBytes(b[len(b) : len(b)+n])
	return b[:len(b)+n]
}

func (d *decoder) pncounter() PNCounter {
	start := d.Off
	scale, intDigits := d.Uvarint(), d.Uvarint()
	if d.Err == nil && (scale > MaxPrecision || intDigits > MaxPrecision) {
		d.Fail(start, "scale %d and %d integer digits; the limit is %d each", scale, intDigits, MaxPrecision)
	}
	c := PNCounter{scale: uint8(scale), intDigits: uint8(intDigits)}
	n := d.count("regions", MaxReplicas)
	if d.Err == nil && n > 0 && c.Precision() == 0 {
		d.Fail(start, "amounts in a counter with no precision declared")
	}
	if d.Err != nil {
		return PNCounter{}
	}
	limit := c.totalLimit()
	total := func() *big.Int {
		start := d.Off
		b := d.Bytes(len(limit.Bytes()))
		switch {
		case d.Err != nil || len(b) == 0:
			return nil
		case b[0] == 0:
			d.Fail(start, "leading zero byte in a total")
			return nil
		}
		x := new(big.Int).SetBytes(b)
		if x.Cmp(limit) > 0 {
			d.Fail(start, "running total of %d digits; the limit is %d", len(x.String()), c.Precision()+totalHeadroom)
		}
		return x
	}
	if n > 0 {
		c.entries = make([]pnEntry, 0, n)
	}
	for i := 0; i < n && d.Err == nil; i++ {
		start := d.Off
		e := pnEntry{region: d.region()}
		e.p, e.n = total(), total()
		switch {
		case d.Err != nil:
		case i > 0 && e.region <= c.entries[i-1].region:
			d.Fail(start, "regions out of order: %q after %q", e.region, c.entries[i-1].region)
		case e.p == nil && e.n == nil:
			d.Fail(start, "region %q with nothing added or subtracted", e.region)
		}
		c.entries = append(c.entries, e)
	}
	return c
}

var bigOne = big.NewInt(1)

// powersOfTen holds 10^0 .. 10^(2*MaxPrecision+totalHeadroom), the largest
// power a state within the limits needs. They are never modified.
var powersOfTen = func() []*big.Int {
	p := make([]*big.Int, 2*MaxPrecision+totalHeadroom+1)
	p[0] = big.NewInt(1)
	for i := 1; i < len(p); i++ {
		p[i] = new(big.Int).Mul(p[i-1], big.NewInt(10))
	}
	return p
}()

func pow10(n int) *big.Int {
	if n < 0 || n >= len(powersOfTen) {
		panic(fmt.Sprintf("crdt: 10^%d is outside the limits", n)) // an invariant, not input
	}
	return powersOfTen[n]
}
