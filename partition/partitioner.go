package partition

import (
	"hash/fnv"
	"strconv"
)

// MaxPartitions is the largest partition count accepted. A Router reads
// every partition's ownership record on Refresh, so the count bounds that
// work; a few hundred partitions already let ownership move in small slices.
const MaxPartitions = 4096

// Partitioner maps entity keys to partitions: FNV-1a (64 bit) over the key's
// bytes, modulo the partition count. The function is part of the on-disk
// format: every region, every version of this package and any program in
// another language that follows this definition maps a key to the same
// partition. (Go's map hash, by contrast, is seeded per process.) Test
// vectors are in partitioner_test.go.
//
// Make one with NewPartitioner; the zero Partitioner has no partitions and
// must not be used. A Partitioner is a small value, safe for concurrent use.
type Partitioner struct {
	n int
}

// NewPartitioner returns the partitioner for n partitions, 1 to
// MaxPartitions.
func NewPartitioner(n int) (Partitioner, error) {
	if n < 1 || n > MaxPartitions {
		return Partitioner{}, invalid("partition count "+strconv.Itoa(n), "want 1 to %d", MaxPartitions)
	}
	return Partitioner{n: n}, nil
}

// N returns the partition count.
func (p Partitioner) N() int { return p.n }

// Partition returns the partition of key, in [0, N).
func (p Partitioner) Partition(key string) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(p.n))
}
