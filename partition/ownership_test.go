package partition_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/partition"
)

func ownershipRecord(p int, value string, epoch uint64) xregion.Record {
	return xregion.Record{
		Key:     partition.OwnershipKey(p),
		Value:   []byte(value),
		Epoch:   epoch,
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()}, Region: "us-east-1"},
	}
}

func TestDecodeOwnership(t *testing.T) {
	want := partition.Ownership{Partition: 3, Home: "eu-west-1", Epoch: 4, How: partition.MoveFailover, From: "us-east-1", By: []string{"alice", "bob"}}
	rec := ownershipRecord(3, string(partition.EncodeOwnership(want, 8)), 4)
	got, n, err := partition.DecodeOwnership(rec)
	require.NoError(t, err)
	require.Equal(t, 8, n)
	want.Version = rec.Version
	require.Equal(t, want, got)

	tests := []struct {
		name string
		rec  xregion.Record
	}{
		{"not JSON", ownershipRecord(3, `nope`, 4)},
		{"trailing data", ownershipRecord(3, `{"partitions":8,"home":"a","epoch":4,"how":"handover"} {}`, 4)},
		{"partition beyond the count", ownershipRecord(9, `{"partitions":8,"home":"a","epoch":4,"how":"handover"}`, 4)},
		{"no partitions", ownershipRecord(3, `{"home":"a","epoch":4,"how":"handover"}`, 4)},
		{"epoch zero", ownershipRecord(3, `{"partitions":8,"home":"a","epoch":0,"how":"handover"}`, 0)},
		{"epoch differs from the record's", ownershipRecord(3, `{"partitions":8,"home":"a","epoch":4,"how":"handover"}`, 5)},
		{"unknown move", ownershipRecord(3, `{"partitions":8,"home":"a","epoch":4,"how":"coup"}`, 4)},
		{"bad home", ownershipRecord(3, `{"partitions":8,"home":"A B","epoch":4,"how":"handover"}`, 4)},
		{"bad from", ownershipRecord(3, `{"partitions":8,"home":"a","from":"-x","epoch":4,"how":"handover"}`, 4)},
		{"empty approver", ownershipRecord(3, `{"partitions":8,"home":"a","epoch":4,"how":"failover","by":[""]}`, 4)},
		{"wrong key", xregion.Record{Key: "owners", Value: []byte(`{"partitions":8,"home":"a","epoch":4,"how":"handover"}`), Epoch: 4}},
		{"tombstone", xregion.Record{Key: partition.OwnershipKey(3), Epoch: 4, Tombstone: true}},
		{"key spelled another way", xregion.Record{Key: "p+0003", Value: []byte(`{"partitions":8,"home":"a","epoch":4,"how":"handover"}`), Epoch: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := partition.DecodeOwnership(tt.rec)
			require.ErrorIs(t, err, xregion.ErrCorrupt)
		})
	}

	t.Run("unknown fields are ignored", func(t *testing.T) {
		o, _, err := partition.DecodeOwnership(ownershipRecord(3, `{"partitions":8,"home":"a","epoch":4,"how":"handover","lease":"later"}`, 4))
		require.NoError(t, err)
		require.Equal(t, xregion.Region("a"), o.Home)
	})
}

// FuzzDecodeOwnership: ownership records arrive from other regions. Decoding
// must never panic, and whatever decodes must encode back to a record that
// decodes to the same thing.
func FuzzDecodeOwnership(f *testing.F) {
	f.Add(`{"partitions":8,"home":"eu-west-1","epoch":4,"how":"failover","from":"us-east-1","by":["alice","bob"]}`, uint64(4), 3)
	f.Add(`{"partitions":1,"home":"a","epoch":1,"how":"bootstrap"}`, uint64(1), 0)
	f.Add(`{"partitions":8,"home":"a","epoch":18446744073709551615,"how":"handover"}`, uint64(1), 3)
	f.Add(`[]`, uint64(0), 0)
	f.Fuzz(func(t *testing.T, value string, epoch uint64, p int) {
		if p < 0 || p >= partition.MaxPartitions {
			p = 0
		}
		o, n, err := partition.DecodeOwnership(ownershipRecord(p, value, epoch))
		if err != nil {
			require.ErrorIs(t, err, xregion.ErrCorrupt)
			return
		}
		again, n2, err := partition.DecodeOwnership(ownershipRecord(p, string(partition.EncodeOwnership(o, n)), o.Epoch))
		require.NoError(t, err)
		require.Equal(t, n, n2)
		require.Equal(t, o, again)
	})
}
