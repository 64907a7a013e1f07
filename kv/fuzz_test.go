package kv

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/xregion/xregion"
)

// Fuzz targets for the decoders of bytes that arrive from other regions:
// entries' envelopes and checkpoints' positions. Found crashers live in
// testdata/fuzz/<target> and run with every go test.
//
//	go test -run xxx -fuzz '^FuzzDecodeEnvelope$' -fuzztime 60s ./kv/

// FuzzDecodeEnvelope: decoding never panics, refuses with an
// *xregion.CorruptError only, and what it accepts encodes back to the
// very same bytes (one entry, one encoding).
func FuzzDecodeEnvelope(f *testing.F) {
	for _, e := range []envelope{
		{},
		{nonce: 1, value: []byte("v")},
		{nonce: math.MaxUint64, expires: 1, value: []byte{}},
		{expires: math.MaxInt64, value: bytes.Repeat([]byte("x"), 300)},
	} {
		f.Add(appendEnvelope(nil, e))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0})
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			var ce *xregion.CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, xregion.ErrCorrupt) {
				t.Fatalf("error %T %v is not an *xregion.CorruptError", err, err)
			}
			if ce.Offset < 0 || ce.Offset > len(b) {
				t.Fatalf("offset %d outside the %d bytes", ce.Offset, len(b))
			}
			return
		}
		if e.expires < 0 || len(e.value) > MaxValueLen {
			t.Fatalf("decoded out of range: %+v", e)
		}
		if again := appendEnvelope(nil, e); !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %+v, which encodes as %x", b, e, again)
		}
	})
}

// FuzzDecodePosition: as FuzzDecodeEnvelope, for checkpoints.
func FuzzDecodePosition(f *testing.F) {
	for _, p := range []int64{0, 1, 300, math.MaxInt64} {
		f.Add(appendPosition(nil, p))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0x80, 0x00})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePosition(b)
		if err != nil {
			var ce *xregion.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not an *xregion.CorruptError", err, err)
			}
			return
		}
		if p < 0 {
			t.Fatalf("negative position %d", p)
		}
		if again := appendPosition(nil, p); !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %d, which encodes as %x", b, p, again)
		}
	})
}

// TestDecodeEnvelope_Refuses names what a canonical encoding never holds.
func TestDecodeEnvelope_Refuses(t *testing.T) {
	good := appendEnvelope(nil, envelope{nonce: 7, expires: 1_000, value: []byte("v")})
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"unknown format", append([]byte{2}, good[1:]...), "unknown format 2"},
		{"unknown flags", append([]byte{1, 3}, good[2:]...), "unknown flags"},
		{"truncated nonce", good[:5], "truncated nonce"},
		{"no value length", appendEnvelope(nil, envelope{})[:10:10], "bad varint"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "trailing"},
		{"value past the end", good[:len(good)-1], "bytes left"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeEnvelope(c.b)
			var ce *xregion.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a CorruptError", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("got %v, want it to say %q", err, c.want)
			}
		})
	}
	zeroExpiry := append([]byte{1, flagExpires}, make([]byte, 8)...)
	zeroExpiry = append(zeroExpiry, 0, 0)
	if _, err := decodeEnvelope(zeroExpiry); err == nil || !bytes.Contains([]byte(err.Error()), []byte("expiry 0")) {
		t.Fatalf("expiry 0 with the flag: got %v", err)
	}
}
