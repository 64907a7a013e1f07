package pghash

import (
	"encoding/binary"
	"math/bits"
)

// BytesExtended returns hash_bytes_extended(b, len(b), seed) as PostgreSQL
// computes it on a little-endian machine: the bits of the int8 that
// hashtextextended returns for a text holding b under a deterministic
// collation. A seed of 0 means none.
func BytesExtended(b []byte, seed uint64) uint64 {
	// PostgreSQL takes the length as an int and adds it as a uint32: keys
	// of 4 GiB and more do not fit in a text (1 GiB at most) anyway.
	a := 0x9e3779b9 + uint32(len(b)) + 3923095
	bb, c := a, a
	if seed != 0 {
		// The seed counts as a 12-byte chunk: its high word, its low word
		// and four bytes of zeroes.
		a += uint32(seed >> 32)
		bb += uint32(seed)
		a, bb, c = mix(a, bb, c)
	}
	for len(b) >= 12 {
		a += binary.LittleEndian.Uint32(b[0:])
		bb += binary.LittleEndian.Uint32(b[4:])
		c += binary.LittleEndian.Uint32(b[8:])
		a, bb, c = mix(a, bb, c)
		b = b[12:]
	}
	// The last 0 to 11 bytes: a and b take theirs as little-endian words,
	// c takes its bytes one place up, as its lowest byte was once
	// reserved for the length. A final block is mixed by final alone,
	// even when it is empty.
	var tail [12]byte
	copy(tail[:], b)
	a += binary.LittleEndian.Uint32(tail[0:])
	bb += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:]) << 8
	a, bb, c = final(a, bb, c)
	return uint64(bb)<<32 | uint64(c)
}

func mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func final(a, b, c uint32) (uint32, uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return a, b, c
}
