package wire_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/internal/wire"
)

type corrupt struct {
	what   string
	off    int
	reason string
}

func (c *corrupt) Error() string { return fmt.Sprintf("%s at %d: %s", c.what, c.off, c.reason) }

func decoder(b ...byte) *wire.Decoder {
	return &wire.Decoder{B: b, What: "test", Corrupt: func(what string, off int, reason string) error {
		return &corrupt{what, off, reason}
	}}
}

func failure(t *testing.T, d *wire.Decoder) *corrupt {
	t.Helper()
	var c *corrupt
	require.True(t, errors.As(d.Err, &c), "want a failure, got %v", d.Err)
	return c
}

func TestDecoder_ReadsCanonicalBytes(t *testing.T) {
	d := decoder(7, 0xac, 0x02, 2, 'h', 'i')
	require.Equal(t, byte(7), d.Byte())
	require.Equal(t, uint64(300), d.Uvarint())
	require.Equal(t, []byte("hi"), d.Bytes(2))
	require.NoError(t, d.Err)
	require.Zero(t, d.Left())
}

func TestDecoder_RefusesWhatNoEncodingHolds(t *testing.T) {
	d := decoder(1, 0x80, 0x00) // 0 written in two bytes
	d.Byte()
	d.Uvarint()
	require.Equal(t, &corrupt{"test", 1, "overlong varint"}, failure(t, d))
	require.Zero(t, d.Byte(), "reads after a failure return zero")
	require.Equal(t, &corrupt{"test", 1, "overlong varint"}, failure(t, d), "the first failure stays")

	d = decoder(3, 'a', 'b', 'c')
	d.Bytes(2)
	require.Equal(t, &corrupt{"test", 0, "length 3 over the limit 2"}, failure(t, d))

	d = decoder(3, 'a')
	d.Bytes(10)
	require.Equal(t, &corrupt{"test", 1, "length 3 but 1 bytes left"}, failure(t, d))

	d = decoder(0x80)
	d.Uvarint()
	require.Equal(t, &corrupt{"test", 0, "bad varint"}, failure(t, d))

	d = decoder()
	d.Byte()
	require.Equal(t, &corrupt{"test", 0, "truncated"}, failure(t, d))
}
