package crdt

import (
	"fmt"

	"github.com/xregion/xregion"
)

// Write returns the record of a local write of s under key in region,
// ready for Store.Apply: s encoded as the value, stamped with clock. s is
// usually the delta a mutation returned (the Resolver merges it into the
// stored state), or a whole new state.
//
// base is the version of the record the state was read from, or zero if
// the key held nothing. Make deltas from the state the store holds: a
// mutation names the region's next dot or running total from the state it
// is given, so a delta made from a state that lacks the region's own
// earlier writes (an empty state, for a key that exists) collides with
// them: increments are lost, set elements disappear. Write folds base into clock first, so the write is
// stamped after the state it was made from; the Resolver refuses, with a
// *StaleWriteError, a write stamped before the stored record of another
// region whose state it changes.
//
// Errors: an *xregion.InvalidError for a nil state, a pointer to a state,
// a nil clock or a record failing xregion.Record.Validate (an invalid key or
// region, a value over MaxEncodedLen); an *xregion.ClockOffsetError
// (wrapped) if base is further ahead of the wall clock than the clock's
// MaxOffset.
func Write(clock *xregion.Clock, region xregion.Region, key string, base xregion.Version, s State) (xregion.Record, error) {
	value, err := Encode(s)
	if err != nil {
		return xregion.Record{}, fmt.Errorf("crdt: write %s: %w", quote(key), err)
	}
	if clock == nil {
		return xregion.Record{}, invalid("crdt write of "+quote(key), "nil clock")
	}
	v, err := clock.Stamp(region, base)
	if err != nil {
		return xregion.Record{}, fmt.Errorf("crdt: write %s: base %s: %w", quote(key), base, err)
	}
	rec := xregion.Record{Key: key, Value: value, Version: v, Base: base}
	if err := rec.Validate(); err != nil {
		return xregion.Record{}, fmt.Errorf("crdt: write: %w", err)
	}
	return rec, nil
}
