package xregion

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamp is a hybrid logical clock reading: wall time in nanoseconds since
// the Unix epoch, and a logical counter that orders events sharing a wall
// time. Timestamps are comparable values; the zero Timestamp is before every
// other and means "none".
type Timestamp struct {
	WallTime int64 // nanoseconds since the Unix epoch; never negative
	Logical  int32 // never negative
}

// TimestampSize is the length of a Timestamp's binary encoding.
const TimestampSize = 12

// IsZero reports whether t is the zero Timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.WallTime < u.WallTime:
		return -1
	case t.WallTime > u.WallTime:
		return 1
	case t.Logical < u.Logical:
		return -1
	case t.Logical > u.Logical:
		return 1
	}
	return 0
}

// Less reports whether t is before u.
func (t Timestamp) Less(u Timestamp) bool { return t.Compare(u) < 0 }

// Next returns the smallest Timestamp after t. When the logical counter is
// exhausted it moves to the next nanosecond. The last Timestamp,
// {WallTime: math.MaxInt64, Logical: math.MaxInt32} (in April 2262), has
// no successor: Next returns it unchanged, the one t for which
// t.Less(t.Next()) is false, rather than wrap to a negative Timestamp
// before all others.
func (t Timestamp) Next() Timestamp {
	if t.Logical == math.MaxInt32 {
		if t.WallTime == math.MaxInt64 {
			return t
		}
		return Timestamp{WallTime: t.WallTime + 1}
	}
	return Timestamp{WallTime: t.WallTime, Logical: t.Logical + 1}
}

// Forward returns the later of t and u.
func (t Timestamp) Forward(u Timestamp) Timestamp {
	if t.Less(u) {
		return u
	}
	return t
}

// GoTime returns the wall time part as a time.Time.
func (t Timestamp) GoTime() time.Time { return time.Unix(0, t.WallTime).UTC() }

// String formats t as "seconds.nanoseconds,logical", e.g.
// "1700000000.000000042,3". ParseTimestamp reads it back.
func (t Timestamp) String() string {
	return fmt.Sprintf("%d.%09d,%d", t.WallTime/1e9, t.WallTime%1e9, t.Logical)
}

// ParseTimestamp parses the form written by Timestamp.String.
func ParseTimestamp(s string) (Timestamp, error) {
	bad := func(reason string) (Timestamp, error) {
		return Timestamp{}, invalid("timestamp "+quote(s), "%s; want \"seconds.nanoseconds,logical\" such as \"1700000000.000000042,3\"", reason)
	}
	wall, logical, ok := strings.Cut(s, ",")
	if !ok {
		return bad("missing ','")
	}
	sec, nsec, ok := strings.Cut(wall, ".")
	if !ok || len(nsec) != 9 {
		return bad("want exactly 9 digits of nanoseconds")
	}
	if !digits(sec) || !digits(nsec) || !digits(logical) {
		return bad("want decimal digits only")
	}
	if leadingZero(sec) || leadingZero(logical) {
		// One timestamp, one spelling: text forms are compared and hashed.
		return bad("leading zero")
	}
	secs, err := strconv.ParseInt(sec, 10, 64)
	ns, _ := strconv.ParseInt(nsec, 10, 64)
	if err != nil || secs > math.MaxInt64/1_000_000_000 || secs == math.MaxInt64/1_000_000_000 && ns > math.MaxInt64%1_000_000_000 {
		// Every WallTime up to MaxInt64 prints, so every one must parse.
		return bad("wall time out of range")
	}
	lg, err := strconv.ParseInt(logical, 10, 32)
	if err != nil {
		return bad("logical counter out of range")
	}
	return Timestamp{WallTime: secs*1e9 + ns, Logical: int32(lg)}, nil
}

func leadingZero(s string) bool { return len(s) > 1 && s[0] == '0' }

func digits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AppendBinary appends t's 12-byte big-endian encoding (wall time, then
// logical counter) to b. Encoded timestamps sort bytewise in time order.
func (t Timestamp) AppendBinary(b []byte) ([]byte, error) {
	return appendTimestamp(b, t), nil
}

// MarshalBinary returns t's 12-byte encoding.
func (t Timestamp) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(make([]byte, 0, TimestampSize))
}

// UnmarshalBinary decodes the encoding written by MarshalBinary. It refuses,
// with an error wrapping ErrCorrupt, anything but 12 bytes holding a
// non-negative wall time and logical counter.
func (t *Timestamp) UnmarshalBinary(b []byte) error {
	if len(b) != TimestampSize {
		return &CorruptError{What: "timestamp", Offset: min(len(b), TimestampSize), Reason: fmt.Sprintf("length %d, want %d", len(b), TimestampSize)}
	}
	ts, err := readTimestamp(b, 0, "timestamp")
	if err != nil {
		return err
	}
	*t = ts
	return nil
}

func appendTimestamp(b []byte, t Timestamp) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.WallTime))
	return binary.BigEndian.AppendUint32(b, uint32(t.Logical))
}

// readTimestamp decodes 12 bytes at b[0:]; off is their offset in the whole
// input, for error messages.
func readTimestamp(b []byte, off int, what string) (Timestamp, error) {
	if len(b) < TimestampSize {
		return Timestamp{}, &CorruptError{What: what, Offset: off + len(b), Reason: "truncated timestamp"}
	}
	t := Timestamp{
		WallTime: int64(binary.BigEndian.Uint64(b)),
		Logical:  int32(binary.BigEndian.Uint32(b[8:])),
	}
	if t.WallTime < 0 || t.Logical < 0 {
		return Timestamp{}, &CorruptError{What: what, Offset: off, Reason: "negative timestamp " + t.String()}
	}
	return t, nil
}
