package lww

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"

	"github.com/xregion/xregion"
)

// Resolver is the last-write-wins xregion.Resolver: the highest version wins,
// and a loser whose writer had not seen the winner is reported as lost (see
// the package documentation). It holds no state of its own beyond the
// region's clock, and is safe for concurrent use. Make one with New: the
// zero Resolver has no clock, and refuses every record.
type Resolver struct {
	clock *xregion.Clock
}

// New returns the last-write-wins resolver of the region whose writes clock
// stamps. Every incoming record's timestamp is folded into clock, so that the
// region's later writes are stamped after what it has seen; a timestamp more
// than clock's MaxOffset ahead of the local wall clock is refused. A nil
// clock is an error wrapping xregion.ErrInvalid.
func New(clock *xregion.Clock) (*Resolver, error) {
	if clock == nil {
		return nil, &xregion.InvalidError{
			What:   "lww clock",
			Reason: "nil; pass the *xregion.Clock that stamps this region's writes",
		}
	}
	return &Resolver{clock: clock}, nil
}

// Resolve decides what the key keeps when incoming arrives on local (the zero
// Record when the key holds nothing). When incoming wins, Resolution.Record
// is a copy of it and Changed is set; when local wins or incoming is already
// held, Changed is false and Record is left zero. Lost is a copy of the loser
// when neither writer had seen the other's version.
//
// Errors: a *xregion.ClockOffsetError (wrapped, with the key) when incoming
// is stamped more than MaxOffset ahead of the local wall clock; an error
// wrapping xregion.ErrInvalid when incoming has no version or its key is not
// local's, or when r is zero or nil, not made by New. Resolve never panics
// and never modifies local or incoming.
func (r *Resolver) Resolve(local, incoming xregion.Record) (xregion.Resolution, error) {
	if r == nil || r.clock == nil {
		// Without the clock, the region's later writes could be stamped
		// before what it has seen; refuse rather than resolve without it.
		return xregion.Resolution{}, &xregion.InvalidError{
			What:   "lww resolver",
			Reason: "zero value; construct it with lww.New",
		}
	}
	if incoming.Version.IsZero() {
		return xregion.Resolution{}, &xregion.InvalidError{
			What:   "lww incoming record " + quote(incoming.Key),
			Reason: "zero version; stamp writes with Clock.Now",
		}
	}
	if !local.Version.IsZero() && local.Key != incoming.Key {
		return xregion.Resolution{}, &xregion.InvalidError{
			What:   "lww incoming record " + quote(incoming.Key),
			Reason: "resolved against the stored record of key " + quote(local.Key) + "; pass the record stored under the same key",
		}
	}
	// Fold the timestamp in even when incoming loses: this region has seen
	// it, and a later local write must be stamped after it.
	if err := r.clock.Update(incoming.Version.Time); err != nil {
		return xregion.Resolution{}, fmt.Errorf("lww: refuse key %s version %s: %w", quote(incoming.Key), incoming.Version, err)
	}
	if local.Version.IsZero() {
		return xregion.Resolution{Record: incoming.Clone(), Changed: true}, nil
	}

	c := compare(incoming, local)
	if c == 0 {
		return xregion.Resolution{}, nil // a replay of what the key holds
	}
	concurrent := !saw(incoming, local.Version) && !saw(local, incoming.Version)
	var res xregion.Resolution
	loser := incoming
	if c > 0 {
		res = xregion.Resolution{Record: incoming.Clone(), Changed: true}
		loser = local
	}
	if concurrent {
		lost := loser.Clone()
		res.Lost = &lost
	}
	return res, nil
}

// compare orders two records of one key: by version, then (for equal
// versions with different contents) tombstone before value, the larger value,
// the larger epoch, the larger base. It returns 0 only for records that hold
// the same state, so every region picks the same winner.
func compare(a, b xregion.Record) int {
	return cmp.Or(
		a.Version.Compare(b.Version),
		compareBool(a.Tombstone, b.Tombstone),
		bytes.Compare(a.Value, b.Value),
		cmp.Compare(a.Epoch, b.Epoch),
		a.Base.Compare(b.Base),
	)
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// saw reports whether the writer of w had seen version v: it had read v or a
// later version, or w is a blind write stamped after v in v's own region,
// whose store applied v before it.
func saw(w xregion.Record, v xregion.Version) bool {
	if w.Base.Compare(v) >= 0 {
		return true
	}
	return w.Base.IsZero() && w.Version.Region == v.Region && v.Less(w.Version)
}

// quote prints a key from another region safely and briefly.
func quote(key string) string {
	const max = 80
	if len(key) > max {
		return strconv.Quote(key[:max]) + "..."
	}
	return strconv.Quote(key)
}
