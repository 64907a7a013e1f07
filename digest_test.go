package xregion_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func TestKeyRange_Split(t *testing.T) {
	for _, tc := range []struct {
		r xregion.KeyRange
		n int
	}{
		{xregion.AllKeys, 1}, {xregion.AllKeys, 2}, {xregion.AllKeys, 3}, {xregion.AllKeys, 1024},
		{xregion.KeyRange{Lo: 10, Hi: 19}, 3}, {xregion.KeyRange{Lo: 10, Hi: 19}, 10},
		{xregion.KeyRange{Lo: 10, Hi: 12}, 100}, {xregion.KeyRange{Lo: 7, Hi: 7}, 4},
		{xregion.KeyRange{Lo: math.MaxUint64 - 5, Hi: math.MaxUint64}, 4}, {xregion.AllKeys, 0},
	} {
		parts := tc.r.Split(tc.n)
		require.NotEmpty(t, parts)
		require.LessOrEqual(t, len(parts), max(tc.n, 1))
		require.Equal(t, tc.r.Lo, parts[0].Lo, "%s in %d", tc.r, tc.n)
		require.Equal(t, tc.r.Hi, parts[len(parts)-1].Hi, "%s in %d", tc.r, tc.n)
		require.NoError(t, xregion.ValidateRanges(parts))
		for i := 1; i < len(parts); i++ {
			require.Equal(t, parts[i-1].Hi+1, parts[i].Lo, "%s in %d: contiguous", tc.r, tc.n)
			w0, w := parts[0].Hi-parts[0].Lo, parts[i].Hi-parts[i].Lo
			require.LessOrEqual(t, max(w0, w)-min(w0, w), uint64(1), "%s in %d: nearly equal widths", tc.r, tc.n)
		}
	}
	require.Len(t, xregion.KeyRange{Lo: 10, Hi: 12}.Split(100), 3, "no more ranges than hashes")
}

func TestKeyHash(t *testing.T) {
	// SELECT to_hex(hashtextextended('k1', 0)) in PostgreSQL 15.
	require.Equal(t, uint64(0x8b521d4e8b0a65d4), xregion.KeyHash("k1"))
	i, ok := xregion.FindRange(xregion.AllKeys.Split(4), xregion.KeyHash("k1"))
	require.True(t, ok)
	require.Equal(t, 2, i)
	_, ok = xregion.FindRange([]xregion.KeyRange{{Lo: 0, Hi: 1}}, xregion.KeyHash("k1"))
	require.False(t, ok)
}

func TestRowHash(t *testing.T) {
	r := xregion.Record{Key: "k1", Value: []byte{1, 2}, Version: xregion.Version{Time: xregion.Timestamp{WallTime: 5, Logical: 1}, Region: "a"}}
	// The same text in PostgreSQL: hashtextextended('2:k1:5:1:a:0:false:' || encode('\x0102'::bytea, 'hex'), 0).
	require.Equal(t, uint64(0x1c38fffd5d50beed), xregion.RowHash(r))
	empty := r
	empty.Value = []byte{}
	nilValue := r
	nilValue.Value = nil
	// hashtextextended('2:k1:5:1:a:0:false:', 0)
	require.Equal(t, uint64(0xae158dd0af73342e), xregion.RowHash(empty))
	require.Equal(t, xregion.RowHash(empty), xregion.RowHash(nilValue), "an empty value is no value")
	// hashtextextended('3:中:1:2147483647:eu-west-1:9223372036854775807:true:', 0): len counts bytes.
	require.Equal(t, uint64(0x5ef1fb082836f431), xregion.RowHash(xregion.Record{
		Key: "中", Tombstone: true, Epoch: math.MaxInt64,
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1, Logical: math.MaxInt32}, Region: "eu-west-1"}}))
	based := r
	based.Base = r.Version
	require.Equal(t, xregion.RowHash(r), xregion.RowHash(based), "Base is how the record was written, not what it holds")
}
