package xregion_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// FuzzBatch_Validate builds a batch from whatever a peer might send: any
// region, positions, table, key, value, versions, epoch and tombstone flag.
// Validate never panics; what it accepts keeps every limit a store relies
// on; what it refuses, it refuses with ErrInvalid.
func FuzzBatch_Validate(f *testing.F) {
	f.Add("b", uint64(1), uint32(0), uint64(2), uint32(1), "orders", "k", []byte("v"), int64(10), int32(0), "b", int64(5), int32(0), "a", uint64(3), false)
	f.Add("", uint64(0), uint32(0), uint64(0), uint32(0), "t", "k", []byte(nil), int64(1), int32(0), "a", int64(0), int32(0), "", uint64(0), true)
	f.Add("B!", uint64(2), uint32(0), uint64(1), uint32(0), "9t", "\x00", []byte("x"), int64(0), int32(-1), "", int64(-1), int32(2), "zz", uint64(1<<63), true)
	f.Fuzz(func(t *testing.T, from string, afterTx uint64, afterIdx uint32, throughTx uint64, throughIdx uint32,
		table, key string, value []byte, wall int64, logical int32, origin string,
		baseWall int64, baseLogical int32, baseOrigin string, epoch uint64, tombstone bool) {
		rec := xregion.Record{
			Key: key, Value: value, Epoch: epoch, Tombstone: tombstone,
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: wall, Logical: logical}, Region: xregion.Region(origin)},
			Base:    xregion.Version{Time: xregion.Timestamp{WallTime: baseWall, Logical: baseLogical}, Region: xregion.Region(baseOrigin)},
		}
		b := xregion.Batch{From: xregion.Region(from),
			After:   xregion.Position{Tx: afterTx, Index: afterIdx},
			Through: xregion.Position{Tx: throughTx, Index: throughIdx},
			Writes:  []xregion.Write{{Table: table, Record: rec}}}
		err := b.Validate()
		if err != nil {
			require.True(t, errors.Is(err, xregion.ErrInvalid), "%v does not wrap ErrInvalid", err)
			return
		}
		require.NoError(t, xregion.ValidateTableName(table))
		require.NotEmpty(t, key)
		require.LessOrEqual(t, len(key), xregion.MaxKeyLen)
		require.True(t, utf8.ValidString(key))
		require.False(t, strings.ContainsRune(key, 0), "PostgreSQL text cannot hold NUL")
		require.LessOrEqual(t, len(value), xregion.MaxValueLen)
		require.False(t, tombstone && len(value) > 0, "a delete carries no value")
		require.False(t, rec.Version.IsZero())
		require.NoError(t, rec.Version.Region.Validate())
		if !rec.Base.IsZero() {
			require.True(t, rec.Base.Less(rec.Version), "a base comes before its version")
		}
		if !b.Through.IsZero() || !b.After.IsZero() {
			require.NotEmpty(t, b.From, "changelog positions say whose changelog")
			require.True(t, b.After.Less(b.Through))
		}
		if b.From != "" {
			require.NoError(t, b.From.Validate())
		}
	})
}
