package partition_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/partition"
)

// fnv1a is FNV-1a (64 bit) written out from its definition: the naive
// reference Partitioner is checked against.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func TestNewPartitioner(t *testing.T) {
	for _, n := range []int{-1, 0, partition.MaxPartitions + 1} {
		_, err := partition.NewPartitioner(n)
		require.ErrorIs(t, err, xregion.ErrInvalid, "n=%d", n)
	}
	for _, n := range []int{1, 64, partition.MaxPartitions} {
		p, err := partition.NewPartitioner(n)
		require.NoError(t, err)
		require.Equal(t, n, p.N())
	}
}

// TestPartitioner_Partition_Vectors pins the partition function. The vectors
// were computed by an independent implementation (Python), so a change here
// is a change of the on-disk format: every region would route keys
// differently. Never update them; add a new function instead.
func TestPartitioner_Partition_Vectors(t *testing.T) {
	tests := []struct {
		key    string
		hash   uint64
		of64   int
		of1000 int
	}{
		{"a", 0xaf63dc4c8601ec8c, 12, 996},
		{"customer-42", 0x1e1b8c70eb18f59e, 30, 86},
		{"customer/42", 0x2ff64e70f55c3430, 48, 640},
		{"ünïcode", 0xb1b0d40350a25beb, 43, 171},
		{"order-7", 0xdee47a9f34bede3b, 59, 59},
	}
	p64, err := partition.NewPartitioner(64)
	require.NoError(t, err)
	p1000, err := partition.NewPartitioner(1000)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			require.Equal(t, tt.hash, fnv1a(tt.key))
			require.Equal(t, tt.of64, p64.Partition(tt.key))
			require.Equal(t, tt.of1000, p1000.Partition(tt.key))
		})
	}
}

func TestPartitioner_Partition(t *testing.T) {
	p, err := partition.NewPartitioner(16)
	require.NoError(t, err)
	counts := make([]int, 16)
	for i := range 16_000 {
		key := fmt.Sprintf("customer-%d", i)
		got := p.Partition(key)
		require.Equal(t, int(fnv1a(key)%16), got, key)
		require.Equal(t, got, p.Partition(key), "not stable")
		counts[got]++
	}
	// Not a speed or quality goal, a sanity check: no partition is starved
	// or flooded by a hash that ignores part of the key.
	for i, c := range counts {
		require.InDelta(t, 1000, c, 200, "partition %d", i)
	}
}
