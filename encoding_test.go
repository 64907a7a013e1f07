package xregion_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func sampleRecord() xregion.Record {
	return xregion.Record{
		Key:     "customer/42",
		Value:   []byte{0, 1, 2, 0xff},
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1_700_000_000_000_000_000, Logical: 2}, Region: "eu-west-1"},
		Base:    xregion.Version{Time: xregion.Timestamp{WallTime: 1_699_999_999_000_000_000}, Region: "us-east-1"},
		Epoch:   1 << 62,
	}
}

func TestRecord_EncodingRoundTrip(t *testing.T) {
	tomb := sampleRecord()
	tomb.Value, tomb.Base, tomb.Tombstone = nil, xregion.Version{}, true
	for _, r := range []xregion.Record{sampleRecord(), tomb} {
		b := xregion.AppendRecord(nil, r)
		got, err := xregion.DecodeRecord(b)
		require.NoError(t, err)
		require.True(t, r.Equal(got), "want %+v, got %+v", r, got)
		b[len(b)-1] ^= 0xff // the decoded value must not alias the input
		require.True(t, r.Equal(got))
	}
}

func TestDecodeRecord_RejectsCorrupt(t *testing.T) {
	good := xregion.AppendRecord(nil, sampleRecord())
	bad := func(mutate func([]byte) []byte) []byte { return mutate(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":           nil,
		"unknown format":  bad(func(b []byte) []byte { b[0] = 2; return b }),
		"unknown flags":   bad(func(b []byte) []byte { b[1] = 0x80; return b }),
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(bytes.Clone(good), 0),
		"huge key length": append([]byte{1, 0}, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"invalid record":  xregion.AppendRecord(nil, xregion.Record{Key: "k", Version: xregion.Version{Region: "a"}}),
		"bad region":      xregion.AppendRecord(nil, xregion.Record{Key: "k", Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: "A B"}}),
		"oversized value": xregion.AppendRecord(nil, xregion.Record{Key: "k", Value: make([]byte, xregion.MaxValueLen+1),
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: "a"}}),
		"key with NUL": xregion.AppendRecord(nil, xregion.Record{Key: "a\x00b",
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: "a"}}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := xregion.DecodeRecord(b)
			require.ErrorIs(t, err, xregion.ErrCorrupt)
			require.True(t, strings.HasPrefix(err.Error(), "xregion: corrupt record at byte "), err.Error())
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(xregion.AppendRecord(nil, sampleRecord()))
	tomb := sampleRecord()
	tomb.Value, tomb.Tombstone = nil, true
	f.Add(xregion.AppendRecord(nil, tomb))
	f.Add([]byte{1, 0, 1, 'k'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := xregion.DecodeRecord(b)
		if err != nil {
			require.ErrorIs(t, err, xregion.ErrCorrupt)
			return
		}
		require.NoError(t, r.Validate(), "a decoded record must be valid")
		require.Equal(t, b, xregion.AppendRecord(nil, r), "the encoding is canonical: decode then encode gives the input back")
	})
}
