package bridge

// targetPartition is where a message of source partition p goes among n
// target partitions.
func (m Mapping) targetPartition(p int, key []byte, nullKey bool, n int) int {
	if m == SamePartition {
		return p
	}
	if nullKey {
		return p % n
	}
	return int((murmur2(key) & 0x7fffffff) % uint32(n))
}

// murmur2 is the hash Kafka's Java producer partitions keys with, so a keyed
// message lands where a native producer of the target would have put it.
func murmur2(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m           = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
