package bridge

import (
	"hash/crc32"
	"math"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestSeqAdd(t *testing.T) {
	for _, c := range []struct {
		s    int32
		n    int64
		want int32
	}{
		{0, 1, 1},
		{5, 3, 8},
		{math.MaxInt32 - 1, 1, math.MaxInt32},
		{math.MaxInt32, 1, 0}, // Kafka wraps after the largest int32
		{math.MaxInt32 - 1, 3, 1},
	} {
		require.Equal(t, c.want, seqAdd(c.s, c.n), "%d + %d", c.s, c.n)
	}
}

// A stamped batch carries the producer and sequence, and its checksum still
// holds, compressed or not: kafka-go's decoder checks it, and franz-go reads
// the header as a broker would.
func TestStamp(t *testing.T) {
	recs := []record{{offset: 1, ts: 1, value: []byte("one")}, {offset: 2, ts: 2, value: []byte("two")}}
	for _, c := range []kafka.Compression{0, kafka.Snappy} {
		payload := appendBatch(nil, recs, c)
		stamp(payload, producer{id: 4711, epoch: 2}, 99)
		require.Len(t, decodeBatch(t, payload), 2)
		var b kmsg.RecordBatch
		require.NoError(t, b.ReadFrom(payload[4:]))
		require.Equal(t, int64(4711), b.ProducerID)
		require.Equal(t, int16(2), b.ProducerEpoch)
		require.Equal(t, int32(99), b.FirstSequence)
		require.Equal(t, crc32.Checksum(payload[25:], castagnoli), uint32(b.CRC))
	}
}
