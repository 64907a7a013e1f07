package xregion

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Limits on what a record may hold. They keep one region from sending another
// a record that cannot be stored or that would stall a batch.
const (
	MaxKeyLen   = 1024    // bytes
	MaxValueLen = 4 << 20 // bytes (4 MiB)
)

// Record is one entity's state in one table of one region.
type Record struct {
	// Key identifies the entity within its table: valid UTF-8 without NUL,
	// 1 to MaxKeyLen bytes. Stores order keys bytewise.
	Key string
	// Value is the entity's state, opaque to xregion (a CRDT table stores an
	// encoded CRDT state here). At most MaxValueLen bytes; empty for a tombstone.
	Value []byte
	// Version is the write that produced this state.
	Version Version
	// Base is the version the writer had read before writing, or zero for a
	// blind write. It is how a concurrent write is told from a later one: a
	// write that supersedes what its writer read is not a conflict.
	Base Version
	// Epoch is the fencing token of single-writer tables: the ownership epoch
	// of the key's partition when the write was made. Zero elsewhere.
	Epoch uint64
	// Tombstone marks a delete. A deleted key keeps its Version, so a delete
	// competes with concurrent writes like any other write.
	Tombstone bool
}

// Validate checks the record against the limits above and the invariants
// stores rely on. The error wraps ErrInvalid and names the key.
func (r Record) Validate() error {
	if err := ValidateKey(r.Key); err != nil {
		return err
	}
	what := func() string { return "record " + quote(r.Key) } // only for errors: Validate is on every hot path
	if len(r.Value) > MaxValueLen {
		return invalid(what(), "value of %d bytes; the limit is %d", len(r.Value), MaxValueLen)
	}
	if r.Epoch > math.MaxInt64 {
		return invalid(what(), "epoch %d; epochs stop at 2^63-1", r.Epoch)
	}
	if r.Tombstone && len(r.Value) != 0 {
		return invalid(what(), "tombstone with a %d-byte value; a delete carries no value", len(r.Value))
	}
	if err := r.Version.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what(), err)
	}
	if !r.Base.IsZero() {
		if err := r.Base.Validate(); err != nil {
			return fmt.Errorf("%s base: %w", what(), err)
		}
		if !r.Base.Less(r.Version) {
			// Such a write would lose, unreported, to the very version its
			// writer read.
			return invalid(what(), "version %s is not after its base %s; fold the base into the clock (Clock.Update) before stamping", r.Version, r.Base)
		}
	}
	return nil
}

// ValidateKey checks a record key: 1 to MaxKeyLen bytes of valid UTF-8
// without NUL (PostgreSQL text cannot hold NUL).
func ValidateKey(key string) error {
	switch {
	case key == "":
		return invalid("key", "empty")
	case len(key) > MaxKeyLen:
		return invalid("key "+quote(key), "%d bytes; the limit is %d", len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return invalid("key "+quote(key), "not valid UTF-8")
	}
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return invalid("key "+quote(key), "contains NUL")
		}
	}
	return nil
}

// Clone returns a copy of r that shares no memory with it.
func (r Record) Clone() Record {
	if r.Value != nil {
		r.Value = append(make([]byte, 0, len(r.Value)), r.Value...)
	}
	return r
}

// Equal reports whether r and s hold the same state: every field, with a nil
// and an empty value counted equal.
func (r Record) Equal(s Record) bool {
	return r.Key == s.Key && r.Version == s.Version && r.Base == s.Base &&
		r.Epoch == s.Epoch && r.Tombstone == s.Tombstone && string(r.Value) == string(s.Value)
}
