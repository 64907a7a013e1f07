package xregion

import (
	"encoding/binary"
	"fmt"
)

// recordFormat is the first byte of every encoded record. A decoder refuses
// formats it does not know rather than guess.
const recordFormat byte = 1

const flagTombstone byte = 1

// AppendRecord appends r's binary encoding to b. The encoding is
// deterministic (equal records encode to equal bytes), so it can be hashed
// and compared across regions:
//
//	format     1 byte, 1
//	flags      1 byte: bit 0 tombstone
//	key        uvarint length, bytes
//	version    12-byte timestamp, uvarint length, region
//	base       12-byte timestamp, uvarint length, region
//	epoch      uvarint
//	value      uvarint length, bytes
func AppendRecord(b []byte, r Record) []byte {
	b = append(b, recordFormat)
	var flags byte
	if r.Tombstone {
		flags |= flagTombstone
	}
	b = append(b, flags)
	b = appendString(b, r.Key)
	b = appendVersion(b, r.Version)
	b = appendVersion(b, r.Base)
	b = binary.AppendUvarint(b, r.Epoch)
	b = binary.AppendUvarint(b, uint64(len(r.Value)))
	return append(b, r.Value...)
}

// DecodeRecord decodes one record written by AppendRecord, which must fill
// b exactly. Bytes from another region are untrusted: anything truncated,
// oversized, with trailing bytes or unknown flags, or that decodes to a record
// failing Record.Validate, is refused with an error wrapping ErrCorrupt. The
// record's Value does not alias b.
func DecodeRecord(b []byte) (Record, error) {
	d := decoder{b: b, what: "record"}
	if f := d.byte(); d.err == nil && f != recordFormat {
		return Record{}, d.fail(0, fmt.Sprintf("unknown format %d, want %d", f, recordFormat))
	}
	flags := d.byte()
	if d.err == nil && flags&^flagTombstone != 0 {
		return Record{}, d.fail(1, fmt.Sprintf("unknown flags %#x", flags))
	}
	r := Record{Tombstone: flags&flagTombstone != 0}
	r.Key = string(d.bytes(MaxKeyLen))
	r.Version = d.version()
	r.Base = d.version()
	r.Epoch = d.uvarint()
	if v := d.bytes(MaxValueLen); len(v) > 0 {
		r.Value = append([]byte(nil), v...)
	}
	if d.err != nil {
		return Record{}, d.err
	}
	if len(d.b) != d.off {
		return Record{}, d.fail(d.off, fmt.Sprintf("%d trailing bytes", len(d.b)-d.off))
	}
	if err := r.Validate(); err != nil {
		return Record{}, d.fail(0, err.Error())
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendVersion(b []byte, v Version) []byte {
	b = appendTimestamp(b, v.Time)
	return appendString(b, string(v.Region))
}

// decoder reads an encoding front to back and keeps the first error, so a
// decode function reads straight through and checks once at the end.
type decoder struct {
	b    []byte
	off  int
	what string
	err  error
}

func (d *decoder) fail(off int, reason string) error {
	if d.err == nil {
		d.err = &CorruptError{What: d.what, Offset: off, Reason: reason}
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(d.off, "truncated")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(d.off, "bad varint")
		return 0
	}
	if n > 1 && d.b[d.off+n-1] == 0 {
		// An overlong varint would let two byte strings decode to one
		// record; the encoding must stay canonical for hashing.
		d.fail(d.off, "overlong varint")
		return 0
	}
	d.off += n
	return v
}

// bytes reads a length-prefixed byte string of at most limit bytes.
func (d *decoder) bytes(limit int) []byte {
	start := d.off
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.fail(start, fmt.Sprintf("length %d over the limit %d", n, limit))
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(d.off, fmt.Sprintf("length %d but %d bytes left", n, len(d.b)-d.off))
		return nil
	}
	d.off += int(n)
	return d.b[d.off-int(n) : d.off]
}

func (d *decoder) version() Version {
	if d.err != nil {
		return Version{}
	}
	t, err := readTimestamp(d.b[d.off:], d.off, d.what)
	if err != nil {
		d.err = err
		return Version{}
	}
	d.off += TimestampSize
	return Version{Time: t, Region: Region(d.bytes(MaxNameLen))}
}
