package bridge

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// record is one message on its way to the target: the source's key, value,
// timestamp and headers, and the headers the bridge adds. Byte slices point
// into the arena of the chunk it was read in and are never modified.
type record struct {
	offset  int64 // in the source partition
	ts      int64 // Unix milliseconds
	key     []byte
	value   []byte
	nullKey bool
	nullVal bool
	headers []header
	target  int // target partition
}

type header struct {
	key   string
	value []byte
}

// size is the record's encoded size, without its length prefix, when it is
// the index-th record of a batch starting at firstTS.
func (r *record) size(index int, firstTS int64) int {
	n := 1 + varintLen(r.ts-firstTS) + varintLen(int64(index))
	n += bytesLen(r.key, r.nullKey) + bytesLen(r.value, r.nullVal)
	n += varintLen(int64(len(r.headers)))
	for _, h := range r.headers {
		n += varintLen(int64(len(h.key))) + len(h.key) + bytesLen(h.value, h.value == nil)
	}
	return n
}

// maxSize bounds the record's encoded size with its length prefix in any
// batch, for deciding where batches end before they are encoded.
func (r *record) maxSize() int {
	return r.size(0, r.ts) + 2*binary.MaxVarintLen64
}

const batchOverhead = 4 + 61 // the record set's size prefix and the batch header

// castagnoli is the CRC-32C table record batches are checksummed with.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendBatch appends recs to dst as a produce request's record set: its
// int32 size, then one record batch (magic 2), exactly as Kafka stores it,
// its records compressed with c, and no producer until stamp gives it one.
// The batch is built once and can be sent again as it is.
func appendBatch(dst []byte, recs []record, c kafka.Compression) []byte {
	if c == 0 {
		return appendRecords(dst, recs)
	}
	start := len(dst)
	plain := appendRecords(nil, recs)
	var w bytes.Buffer
	w.Grow(len(plain) / 2)
	cw := c.Codec().NewWriter(&w)
	_, err := cw.Write(plain[batchOverhead:])
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	if err != nil || w.Len() >= len(plain)-batchOverhead {
		return append(dst, plain...) // not worth it, or not possible: send it plain
	}
	dst = append(dst, plain[:batchOverhead]...)
	dst = append(dst, w.Bytes()...)
	b := dst[start:]
	binary.BigEndian.PutUint16(b[25:], uint16(c)) // attributes: the codec
	seal(b)
	return dst
}

// appendRecords encodes the batch uncompressed.
func appendRecords(dst []byte, recs []record) []byte {
	start := len(dst)
	firstTS, maxTS := recs[0].ts, recs[0].ts
	for i := range recs {
		maxTS = max(maxTS, recs[i].ts)
	}
	var hdr [batchOverhead]byte
	be := binary.BigEndian
	// hdr[0:4] size and hdr[12:16] batch length are set below.
	be.PutUint64(hdr[4:], 0)           // base offset: the broker assigns it
	be.PutUint32(hdr[16:], 0xffffffff) // partition leader epoch: -1
	hdr[20] = 2                        // magic
	// hdr[21:25] CRC is set below.
	be.PutUint16(hdr[25:], 0) // attributes: no compression, create time
	be.PutUint32(hdr[27:], uint32(len(recs)-1))
	be.PutUint64(hdr[31:], uint64(firstTS))
	be.PutUint64(hdr[39:], uint64(maxTS))
	be.PutUint64(hdr[47:], 0xffffffffffffffff) // producer id: -1
	be.PutUint16(hdr[55:], 0xffff)             // producer epoch: -1
	be.PutUint32(hdr[57:], 0xffffffff)         // base sequence: -1
	be.PutUint32(hdr[61:], uint32(len(recs)))
	dst = append(dst, hdr[:]...)

	for i := range recs {
		r := &recs[i]
		dst = binary.AppendVarint(dst, int64(r.size(i, firstTS)))
		dst = append(dst, 0) // record attributes
		dst = binary.AppendVarint(dst, r.ts-firstTS)
		dst = binary.AppendVarint(dst, int64(i))
		dst = appendBytes(dst, r.key, r.nullKey)
		dst = appendBytes(dst, r.value, r.nullVal)
		dst = binary.AppendVarint(dst, int64(len(r.headers)))
		for _, h := range r.headers {
			dst = binary.AppendVarint(dst, int64(len(h.key)))
			dst = append(dst, h.key...)
			dst = appendBytes(dst, h.value, h.value == nil)
		}
	}

	seal(dst[start:])
	return dst
}

// seal sets the sizes and the checksum of an encoded record set.
func seal(b []byte) {
	be := binary.BigEndian
	be.PutUint32(b[0:], uint32(len(b)-4))
	be.PutUint32(b[12:], uint32(len(b)-16)) // after base offset and length
	be.PutUint32(b[21:], crc32.Checksum(b[25:], castagnoli))
}

// rawRecords wraps an encoded record set for kafka-go's RawProduce; a new
// reader each time, so a batch can be sent again.
func rawRecords(b []byte) protocol.RawRecordSet {
	return protocol.RawRecordSet{Reader: bytes.NewReader(b)}
}

func appendBytes(dst, b []byte, null bool) []byte {
	if null {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func bytesLen(b []byte, null bool) int {
	if null {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

// varintLen is the length of v as a zig-zag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
