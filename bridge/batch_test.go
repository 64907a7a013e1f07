package bridge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// decodeBatch reads an encoded record set back with kafka-go's decoder,
// which checks the CRC.
func decodeBatch(t *testing.T, payload []byte) []*protocol.Record {
	t.Helper()
	var rs protocol.RecordSet
	_, err := rs.ReadFrom(bufio.NewReader(bytes.NewReader(payload)))
	require.NoError(t, err)
	var out []*protocol.Record
	for {
		r, err := rs.Records.ReadRecord()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		c := *r
		c.Headers = append([]protocol.Header(nil), r.Headers...)
		out = append(out, &c)
	}
}

func readBytes(t *testing.T, b protocol.Bytes) ([]byte, bool) {
	if b == nil {
		return nil, true
	}
	v, err := io.ReadAll(b)
	require.NoError(t, err)
	return v, false
}

func TestAppendBatch(t *testing.T) {
	now := time.Now().UnixMilli()
	recs := []record{
		{offset: 7, ts: now, key: []byte("k"), value: []byte("v"), headers: []header{{"a", []byte("1")}, {"empty", []byte{}}}},
		{offset: 8, ts: now - 5, nullKey: true, value: []byte{}}, // timestamps may go back
		{offset: 9, ts: now + 1000, key: []byte{}, nullVal: true, headers: []header{{"null", nil}}},
	}
	payload := appendBatch([]byte("prefix"), recs, 0)[len("prefix"):]

	got := decodeBatch(t, payload)
	require.Len(t, got, 3)
	for i, r := range got {
		require.Equal(t, int64(i), r.Offset, "offsets are the batch's own, from 0")
		require.Equal(t, recs[i].ts, r.Time.UnixMilli())
		k, nullKey := readBytes(t, r.Key)
		v, nullVal := readBytes(t, r.Value)
		require.Equal(t, recs[i].nullKey, nullKey)
		require.Equal(t, recs[i].nullVal, nullVal)
		if !nullKey {
			require.Equal(t, string(recs[i].key), string(k))
		}
		if !nullVal {
			require.Equal(t, string(recs[i].value), string(v))
		}
		require.Len(t, r.Headers, len(recs[i].headers))
		for j, h := range r.Headers {
			require.Equal(t, recs[i].headers[j].key, h.Key)
			require.Equal(t, string(recs[i].headers[j].value), string(h.Value))
		}
	}

	// franz-go reads the batch header as a broker would.
	var b kmsg.RecordBatch
	require.NoError(t, b.ReadFrom(payload[4:]))
	require.Equal(t, int32(len(payload)-16), b.Length)
	require.Equal(t, int8(2), b.Magic)
	require.Equal(t, int32(2), b.LastOffsetDelta)
	require.Equal(t, int32(3), b.NumRecords)
	require.Equal(t, now, b.FirstTimestamp)
	require.Equal(t, now+1000, b.MaxTimestamp)
	require.Equal(t, int64(-1), b.ProducerID)
}

// Random records survive the round trip, and size bounds what is written.
func TestAppendBatch_Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func() []byte {
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for round := 0; round < 200; round++ {
		n := 1 + rng.IntN(20)
		recs := make([]record, n)
		ts := rng.Int64N(1 << 41)
		est := 0
		for i := range recs {
			r := &recs[i]
			r.offset, r.ts = int64(i), ts+rng.Int64N(2000)-1000
			r.key, r.nullKey = blob(), rng.IntN(5) == 0
			r.value, r.nullVal = blob(), rng.IntN(9) == 0
			for j := rng.IntN(4); j > 0; j-- {
				r.headers = append(r.headers, header{fmt.Sprint("h", j), blob()})
			}
			est += r.maxSize()
		}
		c := kafka.Compression(round % 5) // none, gzip, snappy, lz4, zstd
		payload := appendBatch(nil, recs, c)
		require.LessOrEqual(t, len(payload), est+batchOverhead, "maxSize bounds the encoding, compressed or not")
		got := decodeBatch(t, payload)
		require.Len(t, got, n)
		for i, r := range got {
			require.Equal(t, recs[i].ts, r.Time.UnixMilli())
			v, null := readBytes(t, r.Value)
			require.Equal(t, recs[i].nullVal, null)
			if !null {
				require.Equal(t, recs[i].value, append([]byte{}, v...))
			}
			require.Len(t, r.Headers, len(recs[i].headers))
		}
	}
}

func TestVarintLen(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 1 << 20, -(1 << 40), 1<<63 - 1, -1 << 63} {
		var buf [16]byte
		require.Equal(t, len(binary.AppendVarint(buf[:0], v)), varintLen(v), "%d", v)
	}
}
