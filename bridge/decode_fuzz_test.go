package bridge

import (
	"hash/crc32"
	"slices"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeMessage runs one source message, whatever a producer (or an
// earlier bridge) put in it, through the pieces of decode: the headers are
// sorted into the source's own and the bridge's, the provenance is added,
// and the message is encoded into a produce batch. Nothing panics; an echo
// is recognised; what goes out keeps the source's key, value and own
// headers, carries provenance that reads back, and is a record batch both
// kafka-go and a broker (franz-go's kmsg) read, checksum and all.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte("k"), []byte("v"), "trace", []byte("t-1"), HeaderHops, []byte("c,a"), int64(7))
	f.Add([]byte(nil), []byte(nil), HeaderID, []byte("id-9"), HeaderOrigin, []byte("c"), int64(0))
	f.Add([]byte{}, []byte{0xff}, "user-id", []byte("u"), HeaderSource, []byte("c/orders/0/3"), int64(1<<40))
	f.Add([]byte("k"), []byte("v"), HeaderHops, []byte("a,b"), "x", []byte(nil), int64(5)) // an echo
	f.Fuzz(func(t *testing.T, key, value []byte, k1 string, v1 []byte, k2 string, v2 []byte, off int64) {
		if off < 0 {
			off = -(off + 1) // source offsets are never negative
		}
		w := &worker{r: &run{from: "a", to: "b", cfg: &config{idHeader: "user-id"}},
			prefix: sourcePrefix("a", "orders", 0), hops: []byte("a,b")}
		src := []kafka.Header{{Key: k1, Value: v1}, {Key: k2, Value: v2}}

		hs, prov := splitHeaders(src, w.r.cfg.idHeader, make([]header, 0, len(src)+4))
		own := []header{}
		for _, h := range src {
			if !slices.Contains([]string{HeaderHops, HeaderID, HeaderOrigin, HeaderSource}, h.Key) {
				own = append(own, header{h.Key, h.Value})
			}
		}
		require.Equal(t, own, hs, "the source's own headers, in order, and none of the bridge's")
		if prov.hops != nil && hopsContain(prov.hops, w.r.to) {
			return // an echo: decode drops it
		}

		var arena blocks[byte]
		out := w.withProvenance(hs, prov, off, &arena)
		require.Len(t, out, len(own)+4)
		var kh []kafka.Header
		for _, h := range out {
			kh = append(kh, kafka.Header{Key: h.key, Value: h.value})
		}
		p, found, err := ParseProvenance(kh)
		require.NoError(t, err, "the provenance the bridge writes reads back")
		require.True(t, found)
		require.Equal(t, "a", p.Cluster)
		require.Equal(t, "orders", p.Topic)
		require.Equal(t, off, p.Offset)
		require.NotEmpty(t, p.ID)
		require.Equal(t, []string{"a", "b"}, p.Hops[len(p.Hops)-2:], "the hops end in this bridge's clusters")
		require.False(t, slices.Contains(p.Hops[:len(p.Hops)-1], "b"), "never a hop list that would echo")

		rec := record{offset: off, key: key, value: value, nullKey: key == nil, nullVal: value == nil, headers: out}
		payload := appendBatch(nil, []record{rec}, 0)
		stamp(payload, producer{id: 1, epoch: 0}, 0)
		got := decodeBatch(t, payload)
		require.Len(t, got, 1)
		k, nullKey := readBytes(t, got[0].Key)
		v, nullVal := readBytes(t, got[0].Value)
		require.Equal(t, key == nil, nullKey)
		require.Equal(t, value == nil, nullVal)
		require.Equal(t, string(key), string(k))
		require.Equal(t, string(value), string(v))
		require.Len(t, got[0].Headers, len(out))
		for i, h := range got[0].Headers {
			require.Equal(t, out[i].key, h.Key)
			require.Equal(t, string(out[i].value), string(h.Value))
		}
		var b kmsg.RecordBatch
		require.NoError(t, b.ReadFrom(payload[4:]), "a broker reads the batch")
		require.EqualValues(t, 1, b.NumRecords)
		require.Equal(t, crc32.Checksum(payload[25:], castagnoli), uint32(b.CRC))
	})
}
