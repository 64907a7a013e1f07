package xregion

import "fmt"

// Resolver settles a write arriving for a key that may already hold a record:
// the incoming record from a local writer or a peer region, and the record
// the store holds. Each table has one, named in Store.DefineTable.
//
// Resolve must be deterministic and must not do I/O: every region resolves
// the same pair the same way, and stores may call it again when they retry a
// transaction. Strategies that promise convergence (last-write-wins, CRDT
// merge) must also make the outcome independent of the order in which
// writes arrive. A store may call Resolve from several goroutines at once
// (concurrent Apply calls), so a Resolver must be safe for concurrent use.
type Resolver interface {
	// Resolve decides what the store keeps. local is the zero Record when the
	// key holds nothing. An error refuses the incoming record and fails the
	// batch that carried it; it must say which record and why.
	Resolve(local, incoming Record) (Resolution, error)
}

// ResolverFunc adapts a function to the Resolver interface.
type ResolverFunc func(local, incoming Record) (Resolution, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(local, incoming Record) (Resolution, error) { return f(local, incoming) }

// Resolution is a Resolver's decision.
type Resolution struct {
	// Record is what the key holds afterwards. Only read when Changed.
	Record Record
	// Changed is true when Record replaces what the store held. The store
	// then writes it and appends it to the changelog; otherwise it leaves the
	// key alone.
	Changed bool
	// Lost, if not nil, is a write the store did not keep although it must
	// not vanish: the store records it in the lost-update ledger, with the
	// winning version and Reason, in the same transaction.
	Lost *Record
	// Reason says why Lost was not kept. The zero value is LostConcurrent.
	Reason LossReason
}

// LossReason says why a write went to the lost-update ledger.
type LossReason uint8

const (
	// LostConcurrent: the write was concurrent with the winner (neither
	// writer had seen the other's version) and lost to it.
	LostConcurrent LossReason = iota
	// LostFenced: the write carried an ownership epoch older than its
	// partition's current one: a stale home region wrote it. It is kept in
	// the ledger for failback instead of being applied over the new owner.
	LostFenced
)

// String returns "concurrent" or "fenced".
func (r LossReason) String() string {
	switch r {
	case LostConcurrent:
		return "concurrent"
	case LostFenced:
		return "fenced"
	}
	return fmt.Sprintf("LossReason(%d)", uint8(r))
}

// ParseLossReason is the inverse of LossReason.String.
func ParseLossReason(s string) (LossReason, error) {
	for r := LostConcurrent; r <= LostFenced; r++ {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, invalid("loss reason "+quote(s), "want \"concurrent\" or \"fenced\"")
}

// ValidateTable checks what Store.DefineTable is given: a valid table name
// and a resolver (a nil ResolverFunc counts as none: it would panic on first
// use).
func ValidateTable(name string, r Resolver) error {
	if err := ValidateTableName(name); err != nil {
		return err
	}
	if f, ok := r.(ResolverFunc); r == nil || ok && f == nil {
		return invalid("resolver for table "+quote(name), "nil; every table needs one (lww, crdt or partition)")
	}
	return nil
}

// Check reports whether a store may apply r, the resolution of incoming in
// table: a changed record and a lost one must be valid records for
// incoming's key. A faulty resolver is refused rather than let it store a
// record under the wrong key, or one no peer would accept.
func (r Resolution) Check(table string, incoming Record) error {
	check := func(what string, rec Record) error {
		if rec.Key != incoming.Key {
			return invalid("resolution of "+table+" "+quote(incoming.Key), "%s for key %s", what, quote(rec.Key))
		}
		if err := rec.Validate(); err != nil {
			return fmt.Errorf("resolution of %s %s: %s: %w", table, quote(incoming.Key), what, err)
		}
		return nil
	}
	if r.Changed {
		if err := check("record", r.Record); err != nil {
			return err
		}
	}
	if r.Lost != nil {
		if r.Reason > LostFenced {
			return invalid("resolution of "+table+" "+quote(incoming.Key), "unknown loss reason %d", r.Reason)
		}
		return check("lost update", *r.Lost)
	}
	return nil
}

// MarshalText formats r as String does.
func (r LossReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses what MarshalText formats.
func (r *LossReason) UnmarshalText(b []byte) error {
	p, err := ParseLossReason(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
