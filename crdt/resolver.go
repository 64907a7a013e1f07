package crdt

import (
	"fmt"

	"github.com/xregion/xregion"
)

// Resolver is the xregion.Resolver of CRDT tables: each record's value is
// an encoded state, and Resolve merges the stored and the incoming state, so
// that nothing is lost and every region that has applied the same writes
// holds the same record, whatever order they arrived in. A Resolver holds no
// state beyond its region's name and clock, and is safe for concurrent use.
// Make one with NewResolver: the zero Resolver has no clock, and refuses
// every record.
type Resolver struct {
	region xregion.Region
	clock  *xregion.Clock
}

// NewResolver returns the resolver of region's CRDT tables. clock is the
// clock that stamps region's writes: every version Resolve sees is folded
// into it, so that the region's later writes are stamped after what it
// holds (see Resolve). An invalid region or a nil clock is an
// *xregion.InvalidError.
func NewResolver(region xregion.Region, clock *xregion.Clock) (*Resolver, error) {
	if err := region.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		return nil, invalid("crdt resolver clock", "nil; pass the *xregion.Clock that stamps this region's writes")
	}
	return &Resolver{region: region, clock: clock}, nil
}

// Resolve merges incoming into local (the zero Record when the key holds
// nothing):
//
//   - no local record: incoming is stored as it is, once its value decodes;
//   - otherwise both values are decoded and merged, and the result is the
//     merged state's encoding with the version, base and epoch of the record
//     with the greater version (for equal versions, the greater base, then
//     epoch). Changed is set only if that record differs from local, so a
//     write applied twice changes nothing the second time, and two regions
//     holding the same writes hold identical records, versions included.
//
// Nothing is ever reported Lost. When nothing changes, Resolution.Record is
// zero.
//
// Errors, each naming the key: an incoming record with a zero version or a
// tombstone, a stored tombstone (CRDT tables do not delete records: remove
// inside the state, ORSet.Remove or ORMap.Remove); a value that does not
// decode (wrapping xregion.ErrCorrupt); states of different types
// (*TypeMismatchError); a merged state beyond MaxEncodedLen or
// MaxReplicas; an incoming timestamp more than the clock's MaxOffset ahead
// (wrapping *xregion.ClockOffsetError, as package lww refuses it); and a
// *StaleWriteError for a write of this region stamped before a stored
// version of another region whose state it changes, which, merged, would
// carry the other region's version, and so never be shipped by this
// region's shipper (ErrStaleWrite: stamp it again); an
// *xregion.InvalidError from a zero or nil Resolver, not made by
// NewResolver. Resolve never panics and never modifies local or incoming.
func (r *Resolver) Resolve(local, incoming xregion.Record) (xregion.Resolution, error) {
	if r == nil || r.clock == nil {
		// Without the clock, the region's later writes could be stamped
		// before what it holds; refuse rather than resolve without it.
		return xregion.Resolution{}, invalid("crdt resolver", "zero value; construct it with crdt.NewResolver")
	}
	key := quote(incoming.Key)
	switch {
	case incoming.Version.IsZero():
		return xregion.Resolution{}, invalid("crdt record "+key, "zero version; stamp writes with Clock.Now")
	case incoming.Tombstone:
		return xregion.Resolution{}, invalid("crdt record "+key, "tombstone; records of CRDT tables are never deleted: remove inside the state (ORSet.Remove, ORMap.Remove)")
	case !local.Version.IsZero() && local.Key != incoming.Key:
		return xregion.Resolution{}, invalid("crdt record "+key, "resolved against the stored record of key %s; pass the record stored under the same key", quote(local.Key))
	case !local.Version.IsZero() && local.Tombstone:
		return xregion.Resolution{}, invalid("crdt record "+key, "the stored record is a tombstone; CRDT tables hold no tombstones")
	}
	if err := r.clock.Update(incoming.Version.Time); err != nil {
		return xregion.Resolution{}, fmt.Errorf("crdt: refuse key %s version %s: %w", key, incoming.Version, err)
	}
	in, err := Decode(incoming.Value)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("crdt: key %s: incoming version %s: %w", key, incoming.Version, err)
	}
	if local.Version.IsZero() {
		return xregion.Resolution{Record: incoming.Clone(), Changed: true}, nil
	}
	// The stored version was accepted before, maybe by another process:
	// fold it in too, so that this region's next write is stamped after it.
	// An error here only means it is still ahead; the stale-write check
	// below covers a write stamped before it.
	_ = r.clock.Update(local.Version.Time)
	cur, err := Decode(local.Value)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("crdt: key %s: stored version %s: %w", key, local.Version, err)
	}
	merged, err := Merge(cur, in)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("crdt: key %s: %w", key, err)
	}
	value, err := Encode(merged)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("crdt: key %s: %w", key, err)
	}
	valueChanged := string(value) != string(local.Value)
	if valueChanged {
		if len(value) > MaxEncodedLen {
			return xregion.Resolution{}, fmt.Errorf("crdt: key %s: %w", key, invalid("merged state", "%d bytes; the limit is %d", len(value), MaxEncodedLen))
		}
		if err := withinReplicas(merged); err != nil {
			return xregion.Resolution{}, fmt.Errorf("crdt: key %s: %w", key, err)
		}
		if incoming.Version.Region == r.region && local.Version.Region != r.region && incoming.Version.Less(local.Version) {
			return xregion.Resolution{}, &StaleWriteError{Key: incoming.Key, Write: incoming.Version, Stored: local.Version}
		}
	}
	src := local
	if newer(incoming, local) {
		src = incoming
	}
	out := xregion.Record{Key: local.Key, Value: value, Version: src.Version, Base: src.Base, Epoch: src.Epoch}
	if !valueChanged {
		out.Value = local.Value
	}
	if out.Equal(local) {
		return xregion.Resolution{}, nil
	}
	return xregion.Resolution{Record: out.Clone(), Changed: true}, nil
}

// newer reports whether a's version is greater than b's; for equal
// versions, whether a's base, then epoch, is: the same choice in every
// region.
func newer(a, b xregion.Record) bool {
	if c := a.Version.Compare(b.Version); c != 0 {
		return c > 0
	}
	if c := a.Base.Compare(b.Base); c != 0 {
		return c > 0
	}
	return a.Epoch > b.Epoch
}

// withinReplicas checks that a merged state names no more than MaxReplicas
// regions in any of its parts, as Decode requires: merging two states that
// each stay within the limit can pass it.
func withinReplicas(s State) error {
	n := 0
	switch s := s.(type) {
	case GCounter:
		n = len(s.entries)
	case PNCounter:
		n = len(s.entries)
	case BoundedCounter:
		n = len(s.regions())
	case MVRegister:
		n = s.ctx.regions()
	case ORSet:
		n = s.ctx.regions()
	case ORMap:
		n = s.ctx.regions()
		for _, e := range s.entries {
			for _, v := range e.vals {
				if err := withinReplicas(v.v); err != nil {
					return err
				}
			}
		}
	}
	if n > MaxReplicas {
		return invalid("merged "+s.Type().String(), "names %d regions; the limit is %d", n, MaxReplicas)
	}
	return nil
}
