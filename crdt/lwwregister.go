package crdt

import (
	"bytes"
	"slices"

	"github.com/xregion/xregion"
)

// LWWRegister holds one value, and of two concurrent writes keeps the one
// with the higher version (HLC timestamp, then region name; for equal
// versions, the bytewise larger value). It is last-write-wins for a single
// field: use it inside an ORMap for the fields of an entity whose other
// fields are sets or counters. A whole record that is replaced on each write
// is better served by package lww, which also reports the writes that lose.
//
// The zero LWWRegister is empty. An LWWRegister is an immutable value, safe
// for concurrent use.
type LWWRegister struct {
	version xregion.Version // zero when empty
	value   []byte          // never modified; nil when empty
}

// Type returns TypeLWWRegister.
func (LWWRegister) Type() Type { return TypeLWWRegister }

// Value returns a copy of the value and whether the register holds one.
func (r LWWRegister) Value() ([]byte, bool) {
	if r.version.IsZero() {
		return nil, false
	}
	return bytes.Clone(r.value), true
}

// Version returns the version of the write the register holds (zero when
// empty).
func (r LWWRegister) Version() xregion.Version { return r.version }

// Set returns the delta that writes value at version v: merge it into r to
// apply it. Stamp v with the region's clock after folding r's version into
// it (Clock.Update, then Clock.Now), so that the write is later than what it
// replaces. Errors, all *xregion.InvalidError: an invalid version, a version
// not after r's (the write would lose to what it means to replace), a
// value longer than MaxEncodedLen.
func (r LWWRegister) Set(v xregion.Version, value []byte) (LWWRegister, error) {
	if err := v.Validate(); err != nil {
		return LWWRegister{}, err
	}
	if !r.version.Less(v) {
		return LWWRegister{}, invalid("lwwregister write "+v.String(), "not after the register's version %s; fold it into the clock and stamp again", r.version)
	}
	if len(value) > MaxEncodedLen {
		return LWWRegister{}, invalid("lwwregister value", "%d bytes; the limit is %d", len(value), MaxEncodedLen)
	}
	if len(value) == 0 {
		value = nil
	}
	return LWWRegister{version: v, value: bytes.Clone(value)}, nil
}

// Merge returns the join of r and o: the write with the higher version
// (for equal versions, the larger value).
func (r LWWRegister) Merge(o LWWRegister) LWWRegister {
	if c := r.version.Compare(o.version); c > 0 || c == 0 && bytes.Compare(r.value, o.value) >= 0 {
		return r
	}
	return o
}

// appendBody writes: 0 for an empty register; or 1, the version (12-byte
// timestamp, region name), the value (uvarint length, bytes).
func (r LWWRegister) appendBody(b []byte) []byte {
	if r.version.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b, _ = r.version.Time.AppendBinary(b)
	b = appendString(b, string(r.version.Region))
	return appendBytes(b, r.value)
}

func (d *decoder) lwwRegister() LWWRegister {
	start := d.Off
	switch flag := d.Byte(); {
	case d.Err != nil:
		return LWWRegister{}
	case flag == 0:
		return LWWRegister{}
	case flag != 1:
		d.Fail(start, "unknown flag %d", flag)
		return LWWRegister{}
	}
	v := d.version()
	value := d.Bytes(MaxEncodedLen)
	if d.Err != nil {
		return LWWRegister{}
	}
	return LWWRegister{version: v, value: slices.Clip(bytes.Clone(value))}
}

// version reads a non-zero version: a 12-byte timestamp and a region.
func (d *decoder) version() xregion.Version {
	start := d.Off
	if d.Err != nil {
		return xregion.Version{}
	}
	if d.Left() < xregion.TimestampSize {
		d.Fail(d.Off, "truncated timestamp")
		return xregion.Version{}
	}
	var v xregion.Version
	if err := v.Time.UnmarshalBinary(d.B[d.Off : d.Off+xregion.TimestampSize]); err != nil {
		d.Fail(start, "%v", err)
		return xregion.Version{}
	}
	d.Off += xregion.TimestampSize
	v.Region = d.region()
	if d.Err == nil && v.Time.IsZero() {
		d.Fail(start, "zero timestamp")
	}
	return v
}
