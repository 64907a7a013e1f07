package xregion

import (
	"encoding/binary"

	"github.com/xregion/xregion/internal/wire"
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
	d := newDecoder(b, "record")
	if f := d.Byte(); d.Err == nil && f != recordFormat {
		return Record{}, d.Fail(0, "unknown format %d, want %d", f, recordFormat)
	}
	flags := d.Byte()
	if d.Err == nil && flags&^flagTombstone != 0 {
		return Record{}, d.Fail(1, "unknown flags %#x", flags)
	}
	r := Record{Tombstone: flags&flagTombstone != 0}
	r.Key = string(d.Bytes(MaxKeyLen))
	r.Version = d.version()
	r.Base = d.version()
	r.Epoch = d.Uvarint()
	if v := d.Bytes(MaxValueLen); len(v) > 0 {
		r.Value = append([]byte(nil), v...)
	}
	if d.Err != nil {
		return Record{}, d.Err
	}
	if d.Left() != 0 {
		return Record{}, d.Fail(d.Off, "%d trailing bytes", d.Left())
	}
	if err := r.Validate(); err != nil {
		return Record{}, d.Fail(0, "%s", err)
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

// decoder is a wire.Decoder that reads versions too.
type decoder struct{ wire.Decoder }

func newDecoder(b []byte, what string) *decoder {
	return &decoder{wire.Decoder{B: b, What: what, Corrupt: func(what string, off int, reason string) error {
		return &CorruptError{What: what, Offset: off, Reason: reason}
	}}}
}

func (d *decoder) version() Version {
	if d.Err != nil {
		return Version{}
	}
	t, err := readTimestamp(d.B[d.Off:], d.Off, d.What)
	if err != nil {
		d.Err = err
		return Version{}
	}
	d.Off += TimestampSize
	return Version{Time: t, Region: Region(d.Bytes(MaxNameLen))}
}
