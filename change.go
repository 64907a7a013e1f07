package xregion

import (
	"fmt"
	"time"
)

// Position is a place in one region's changelog. Positions are totally
// ordered and every change has its own; the zero Position is before all of
// them.
//
// A Position is two numbers because of the outbox trap: transactions commit
// in an order of their own, not in the order they took sequence numbers, so a
// reader that shipped number 11 must still be able to ship 10 when it commits
// later. Stores order changes by the transaction that wrote them (Tx; in
// PostgreSQL its 64-bit transaction id) and then by their place within it
// (Index), and expose a change only once no open transaction can still
// commit a change ordered before it. See Store.Changes.
type Position struct {
	Tx    uint64
	Index uint32
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p == Position{} }

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Tx < q.Tx:
		return -1
	case p.Tx > q.Tx:
		return 1
	case p.Index < q.Index:
		return -1
	case p.Index > q.Index:
		return 1
	}
	return 0
}

// Less reports whether p is before q.
func (p Position) Less(q Position) bool { return p.Compare(q) < 0 }

// String formats p as "tx/index".
func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Tx, p.Index) }

// Change is a record as appended to a region's changelog: every write that
// changed a stored record, local or applied from a peer, in one region.
type Change struct {
	Pos    Position
	Table  string
	Record Record
	// Time is when the change was appended in this region, by the store's
	// clock (the database server's for PostgreSQL). It trails the commit by
	// at most the rest of the transaction.
	Time time.Time
	// OriginPos is where the change stands in its origin's changelog: Pos
	// itself for a write made here; for a write applied from a changelog
	// stream (Write.Pos), its place there; zero for a write applied by
	// version (staged, resynced), which has no known place. A region's
	// copies of a peer's writes keep the peer's order, so survivors can
	// forward a dead region's writes to each other exactly where each
	// stopped (replicate.CatchUp).
	OriginPos Position
}

// Origin is the region that made the write: Record.Version.Region.
func (c Change) Origin() Region { return c.Record.Version.Region }

// ChangeQuery selects changelog entries for Store.Changes.
type ChangeQuery struct {
	// After excludes this position and everything before it.
	After Position
	// Origin keeps only changes whose write was made in this region. Zero
	// keeps all. Shippers pass their own region so regions do not echo each
	// other's writes back.
	Origin Region
	// OriginAfter, when not zero, keeps only changes whose OriginPos is
	// after it (which drops those with none): a dead region's writes a
	// peer has not applied, found in a survivor's changelog. It needs
	// Origin.
	OriginAfter Position
	// Limit is the most changes to return: 1 to MaxChangeLimit.
	Limit int
}

// MaxChangeLimit is the largest ChangeQuery.Limit accepted.
const MaxChangeLimit = 100_000

// Validate checks the query.
func (q ChangeQuery) Validate() error {
	if q.Limit < 1 || q.Limit > MaxChangeLimit {
		return invalid("change query", "limit %d; want 1 to %d", q.Limit, MaxChangeLimit)
	}
	if q.Origin != "" {
		return q.Origin.Validate()
	}
	if !q.OriginAfter.IsZero() {
		return invalid("change query", "OriginAfter %s without Origin; say whose changelog it is a place in", q.OriginAfter)
	}
	return nil
}
