package kv

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wire"
)

// Entry is what a key holds: a value, the write that stored it, and when it
// expires.
type Entry struct {
	Namespace string
	Key       string
	Value     []byte
	// Version is the write that stored the entry: the HLC timestamp and
	// region it was stamped with. Pass it to IfMatch to write only over
	// this very entry (as an object store's ETag).
	Version xregion.Version
	// Expires is the instant from which the entry is gone, on the HLC's
	// physical (wall) time: the write's timestamp plus its TTL, the same in
	// every region. Zero for an entry that does not expire.
	Expires time.Time
}

// Expired reports whether the entry is gone at now, a reading of the
// region's HLC: now's physical time is at or past Expires.
func (e Entry) Expired(now xregion.Timestamp) bool {
	return !e.Expires.IsZero() && now.WallTime >= e.Expires.UnixNano()
}

// envelope is a record value of a kv table: the entry's expiry and the
// user's bytes. Its encoding, written by appendEnvelope:
//
//	format   1 byte, 1
//	flags    1 byte: bit 0 set when the entry expires
//	nonce    8 bytes, random
//	expires  uvarint, only with bit 0: the HLC wall time, in nanoseconds
//	         since the Unix epoch, from which the entry is expired;
//	         1 to 2^63-1
//	value    uvarint length (at most MaxValueLen), bytes
//
// One entry has one encoding: decodeEnvelope refuses anything else
// (overlong varints, unknown flags, trailing bytes), because lww breaks
// ties on the value's bytes and digests hash them.
//
// The nonce makes every write's bytes its own. Two processes of a region
// have clocks of their own, which can stamp two writes with the same
// version; had they the same base and value too, the store could not tell
// them apart, and each writer's conditional write would pass as a replay
// of the other's (two increments of a counter, one lost).
type envelope struct {
	nonce   uint64
	expires int64 // 0: never
	value   []byte
}

const (
	envelopeFormat byte = 1
	flagExpires    byte = 1
)

func appendEnvelope(b []byte, e envelope) []byte {
	b = append(b, envelopeFormat)
	var flags byte
	if e.expires > 0 {
		flags |= flagExpires
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, e.nonce)
	if e.expires > 0 {
		b = binary.AppendUvarint(b, uint64(e.expires))
	}
	b = binary.AppendUvarint(b, uint64(len(e.value)))
	return append(b, e.value...)
}

// decodeEnvelope decodes a record value of a kv table. Bytes from another
// region are untrusted: anything but an encoding appendEnvelope writes is
// refused with an *xregion.CorruptError. The value aliases b.
func decodeEnvelope(b []byte) (envelope, error) {
	d := wire.Decoder{B: b, What: "kv entry", Corrupt: corrupt}
	if f := d.Byte(); d.Err == nil && f != envelopeFormat {
		return envelope{}, d.Fail(0, "unknown format %d, want %d", f, envelopeFormat)
	}
	flags := d.Byte()
	if d.Err == nil && flags&^flagExpires != 0 {
		return envelope{}, d.Fail(1, "unknown flags %#x", flags)
	}
	var e envelope
	if d.Err == nil && d.Left() < 8 {
		return envelope{}, d.Fail(d.Off, "truncated nonce")
	}
	if d.Err == nil {
		e.nonce = binary.BigEndian.Uint64(d.B[d.Off:])
		d.Off += 8
	}
	if flags&flagExpires != 0 {
		at := d.Off
		x := d.Uvarint()
		if d.Err == nil && (x == 0 || x > math.MaxInt64) {
			return envelope{}, d.Fail(at, "expiry %d out of range 1 to 2^63-1", x)
		}
		e.expires = int64(x)
	}
	e.value = d.Bytes(MaxValueLen)
	if d.Err != nil {
		return envelope{}, d.Err
	}
	if d.Left() != 0 {
		return envelope{}, d.Fail(d.Off, "%d trailing bytes", d.Left())
	}
	return e, nil
}

// expiry is when an entry written at v with ttl expires: v's physical time
// plus ttl, held at the end of time rather than wrapped; 0 (never) for a
// ttl of 0.
func expiry(v xregion.Version, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	if v.Time.WallTime > math.MaxInt64-int64(ttl) {
		return math.MaxInt64
	}
	return v.Time.WallTime + int64(ttl)
}

// entryOf decodes a stored record (not a tombstone) of the table.
func entryOf(rec xregion.Record) (Entry, error) {
	env, err := decodeEnvelope(rec.Value)
	if err != nil {
		return Entry{}, err
	}
	ns, key, _ := splitKey(rec.Key)
	e := Entry{Namespace: ns, Key: key, Version: rec.Version, Value: append([]byte(nil), env.value...)}
	if env.expires > 0 {
		e.Expires = time.Unix(0, env.expires).UTC()
	}
	return e, nil
}
