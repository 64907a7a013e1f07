package xregion_test

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func TestTimestamp_Order(t *testing.T) {
	a := xregion.Timestamp{WallTime: 10, Logical: 5}
	b := xregion.Timestamp{WallTime: 11}
	require.True(t, a.Less(b))
	require.True(t, a.Less(a.Next()))
	require.Equal(t, b, a.Forward(b))
	require.Equal(t, b, b.Forward(a))
	require.True(t, xregion.Timestamp{}.IsZero())
}

func TestTimestamp_StringRoundTrip(t *testing.T) {
	for _, want := range []xregion.Timestamp{
		{}, {WallTime: 42, Logical: 3}, {WallTime: 1_700_000_000_123_456_789, Logical: 2147483647},
		{WallTime: math.MaxInt64, Logical: math.MaxInt32}, // the last timestamp there is
	} {
		got, err := xregion.ParseTimestamp(want.String())
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	require.Equal(t, "1700000000.000000042,3", xregion.Timestamp{WallTime: 1_700_000_000_000_000_042, Logical: 3}.String())
}

func TestParseTimestamp_Invalid(t *testing.T) {
	for _, s := range []string{"", "1", "1.0,0", "1.000000000", "-1.000000000,0", "1.000000000,-1",
		"1.000000000,2147483648", "9223372036.854775808,0", "9223372037.000000000,0", "01.000000000,0", "1.000000000,01", "99999999999999999999.000000000,0", "1.00000000a,0", "+1.000000000,0"} {
		_, err := xregion.ParseTimestamp(s)
		require.ErrorIs(t, err, xregion.ErrInvalid, "%q", s)
	}
}

func TestTimestamp_BinaryRoundTripAndOrder(t *testing.T) {
	a := xregion.Timestamp{WallTime: 1_700_000_000_000_000_000, Logical: 1}
	b := a.Next()
	ea, err := a.MarshalBinary()
	require.NoError(t, err)
	eb, err := b.MarshalBinary()
	require.NoError(t, err)
	require.Len(t, ea, xregion.TimestampSize)
	require.Less(t, string(ea), string(eb), "encodings must sort in time order")
	var got xregion.Timestamp
	require.NoError(t, got.UnmarshalBinary(eb))
	require.Equal(t, b, got)
}

func TestTimestamp_UnmarshalBinaryRejectsCorrupt(t *testing.T) {
	var got xregion.Timestamp
	for _, b := range [][]byte{nil, make([]byte, 11), make([]byte, 13),
		{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // negative wall time
		{0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0}, // negative logical
	} {
		require.ErrorIs(t, got.UnmarshalBinary(b), xregion.ErrCorrupt, "%x", b)
	}
}

func FuzzTimestamp_UnmarshalBinary(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Add([]byte{0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ts xregion.Timestamp
		if err := ts.UnmarshalBinary(b); err != nil {
			require.ErrorIs(t, err, xregion.ErrCorrupt)
			return
		}
		again, err := ts.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, b, again, "a decoded timestamp must re-encode to the same bytes")
		parsed, err := xregion.ParseTimestamp(ts.String())
		require.NoError(t, err, "a decoded timestamp must print in a form that parses")
		require.Equal(t, ts, parsed)
	})
}

func FuzzParseTimestamp(f *testing.F) {
	f.Add("1700000000.000000042,3")
	f.Add("0.000000000,0")
	f.Add("1.1,1")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := xregion.ParseTimestamp(s)
		if err != nil {
			require.ErrorIs(t, err, xregion.ErrInvalid)
			return
		}
		require.Equal(t, s, ts.String(), "a parsed timestamp must print as its input")
	})
}

// TestTimestamp_OrderProperties checks, on random pairs, the laws the
// orders promise against a naive reference: binary encodings sort bytewise
// as timestamps do, Compare agrees with Less and is antisymmetric, and
// Version orders by timestamp and then by region name.
func TestTimestamp_OrderProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	random := func() xregion.Timestamp {
		// Few distinct values, so equal walls and equal timestamps are common.
		walls := []int64{0, 1, 1_700_000_000_000_000_000, math.MaxInt64 - 1, math.MaxInt64}
		logicals := []int32{0, 1, 255, 256, math.MaxInt32}
		return xregion.Timestamp{WallTime: walls[rng.IntN(len(walls))], Logical: logicals[rng.IntN(len(logicals))]}
	}
	regions := []xregion.Region{"a", "ap-south-1", "eu-west-1", "us-east-1"}
	for range 5000 {
		a, b := random(), random()
		want := cmp.Or(cmp.Compare(a.WallTime, b.WallTime), cmp.Compare(a.Logical, b.Logical))
		require.Equal(t, want, a.Compare(b), "%s vs %s", a, b)
		require.Equal(t, -want, b.Compare(a), "%s vs %s", b, a)
		require.Equal(t, want < 0, a.Less(b))
		require.Equal(t, want == 0, a == b)

		ea, err := a.MarshalBinary()
		require.NoError(t, err)
		eb, err := b.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, want, bytes.Compare(ea, eb), "encodings of %s and %s sort out of order", a, b)

		va := xregion.Version{Time: a, Region: regions[rng.IntN(len(regions))]}
		vb := xregion.Version{Time: b, Region: regions[rng.IntN(len(regions))]}
		wantV := cmp.Or(want, cmp.Compare(va.Region, vb.Region))
		require.Equal(t, wantV, va.Compare(vb), "%s vs %s", va, vb)
		require.Equal(t, -wantV, vb.Compare(va), "%s vs %s", vb, va)
	}
}
