package wire

import (
	"encoding/binary"
	"fmt"
)

// Decoder reads an encoding front to back and keeps the first error, so a
// decode function reads straight through and checks Err once at the end.
type Decoder struct {
	B    []byte
	Off  int    // the next byte to read
	What string // what is decoded, for errors: "record", "crdt state"
	Err  error  // the first failure; every read after it returns zero
	// Corrupt makes the error for a failure at offset off.
	Corrupt func(what string, off int, reason string) error
}

// Fail records a failure at offset off, unless one is recorded already, and
// returns the first.
func (d *Decoder) Fail(off int, format string, args ...any) error {
	if d.Err == nil {
		d.Err = d.Corrupt(d.What, off, fmt.Sprintf(format, args...))
	}
	return d.Err
}

// Left is how many bytes are still to read.
func (d *Decoder) Left() int { return len(d.B) - d.Off }

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.Err != nil {
		return 0
	}
	if d.Off >= len(d.B) {
		d.Fail(d.Off, "truncated")
		return 0
	}
	d.Off++
	return d.B[d.Off-1]
}

// Uvarint reads an unsigned varint in its shortest form.
func (d *Decoder) Uvarint() uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B[d.Off:])
	if n <= 0 {
		d.Fail(d.Off, "bad varint")
		return 0
	}
	if n > 1 && d.B[d.Off+n-1] == 0 {
		// An overlong varint would let two byte strings decode to one
		// value; the encoding must stay canonical for comparing and
		// hashing.
		d.Fail(d.Off, "overlong varint")
		return 0
	}
	d.Off += n
	return v
}

// Bytes reads a length-prefixed byte string of at most limit bytes. The
// result aliases the input.
func (d *Decoder) Bytes(limit int) []byte {
	start := d.Off
	n := d.Uvarint()
	if d.Err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.Fail(start, "length %d over the limit %d", n, limit)
		return nil
	}
	if n > uint64(d.Left()) {
		d.Fail(d.Off, "length %d but %d bytes left", n, d.Left())
		return nil
	}
	d.Off += int(n)
	return d.B[d.Off-int(n) : d.Off]
}
