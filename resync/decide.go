package resync

import (
	"fmt"

	"github.com/xregion/xregion"
)

// move is what a key's two regions receive from each other.
type move struct {
	toA, toB  *xregion.Record
	atA, atB  xregion.Resolution // what the stores will decide, for sent records
	conflicts []Conflict
	a, b      xregion.Region
	// apart is set when the regions would still differ afterwards: neither
	// resolver takes the other's record in (a stale home's write that a
	// region holds, while the other holds an older record or nothing).
	apart bool
}

// decide settles a key that regions a and b hold differently (ra, rb: nil
// where a region holds nothing), resolving each record against the other
// with the resolver of the region it would reach, as the stores will. A
// region receives the other's record when its resolver changes its own
// with it, or when the record would lose there and must reach that
// region's ledger because nothing else records it. A record displaced by
// the winner is recorded in its own region's ledger when the winner
// arrives, so under last-write-wins only the winner moves; a merge moves
// both ways (CRDTs); a stale home's write is quarantined where it is
// displaced (single writer).
func decide(t Table, a, b xregion.Region, ra, rb *xregion.Record) (move, error) {
	m := move{a: a, b: b}
	resolve := func(r xregion.Resolver, local, incoming *xregion.Record) (xregion.Resolution, error) {
		var l xregion.Record
		if local != nil {
			l = *local
		}
		res, err := r.Resolve(l, incoming.Clone())
		if err != nil {
			return res, fmt.Errorf("resolve %q: %w", incoming.Key, err)
		}
		return res, nil
	}
	var err error
	if ra != nil {
		if m.atB, err = resolve(t.B, rb, ra); err != nil {
			return m, err
		}
	}
	if rb != nil {
		if m.atA, err = resolve(t.A, ra, rb); err != nil {
			return m, err
		}
	}
	// recorded reports whether res, the resolution of the other record,
	// replaces r and records r in the ledger.
	recorded := func(res xregion.Resolution, r *xregion.Record) bool {
		return res.Changed && res.Lost != nil && res.Lost.Version == r.Version
	}
	if ra != nil && (m.atB.Changed || m.atB.Lost != nil && !(rb != nil && recorded(m.atA, ra))) {
		m.toB = ra
		m.conflicts = append(m.conflicts, conflict(m.atB, b, ra, rb)...)
	}
	if rb != nil && (m.atA.Changed || m.atA.Lost != nil && !(ra != nil && recorded(m.atB, rb))) {
		m.toA = rb
		m.conflicts = append(m.conflicts, conflict(m.atA, a, rb, ra)...)
	}
	m.apart = !same(after(ra, m.toA, m.atA), after(rb, m.toB, m.atB))
	return m, nil
}

// after is what a region holding held keeps once sent arrives, resolved as res.
func after(held, sent *xregion.Record, res xregion.Resolution) *xregion.Record {
	if sent != nil && res.Changed {
		return &res.Record
	}
	return held
}

func same(a, b *xregion.Record) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// conflict is the ledger entry res adds in region at, if any: incoming
// arrived where local was held.
func conflict(res xregion.Resolution, at xregion.Region, incoming, local *xregion.Record) []Conflict {
	if res.Lost == nil {
		return nil
	}
	winner := incoming.Version
	switch {
	case res.Changed:
		winner = res.Record.Version
	case local != nil:
		winner = local.Version
	}
	if res.Lost.Version == winner {
		winner = xregion.Version{}
	}
	return []Conflict{{Key: res.Lost.Key, Lost: res.Lost.Version, Winner: winner, Reason: res.Reason, Region: at}}
}

// outcome says what becomes of r, region's record of the key, under m:
// see Unshipped.Outcome.
func (m move) outcome(region xregion.Region, r *xregion.Record) Outcome {
	if r == nil {
		return ""
	}
	for _, c := range m.conflicts {
		if c.Lost == r.Version {
			if c.Reason == xregion.LostFenced {
				return OutcomeFenced
			}
			return OutcomeLost
		}
	}
	sent, res := m.toB, m.atB
	if region == m.b {
		sent, res = m.toA, m.atA
	}
	if sent != nil && res.Changed {
		return OutcomeApplied
	}
	return OutcomeHeld
}
