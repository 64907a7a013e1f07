// Package wire holds the reader that every decoder of bytes from another
// region is built on: it reads front to back, keeps the first error, and
// refuses what a canonical encoding never holds (truncation, overlong
// varints, lengths past a limit or past the input), each with the offset of
// the bad byte.
//
//	d := wire.Decoder{B: b, What: "record", Corrupt: newCorruptError}
//	key := d.Bytes(MaxKeyLen)
//	epoch := d.Uvarint()
//	if d.Err != nil {
//		return d.Err
//	}
//
// Corrupt builds the error, so each package reports its own error type
// (xregion.CorruptError) without this package importing it.
package wire
