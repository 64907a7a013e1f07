package bridge

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// floor bounds how far back the target's tail must be searched for the
// messages of one source partition. With known set, a message of that source
// partition sits at offset, so the last one is there or later; without it,
// none of them lies below offset. An offset of -1 bounds nothing.
//
// Floors travel with the committed offsets (as commit metadata), so a
// restart reads only the tail written since the last commit, however many
// other messages (local ones, or those of other bridges) the target partition
// holds below it.
type floor struct {
	offset int64
	known  bool
}

var noFloor = floor{offset: -1}

// The commit metadata the bridge writes starts with metaVersion; metaV1, the
// version before producers, is still read.
const (
	metaVersion = "xr2"
	metaV1      = "xr1"
)

// maxMeta keeps commit metadata under Kafka's default
// offset.metadata.max.bytes (4096); past it the floors are left out, which
// costs longer searches, never correctness.
const maxMeta = 4000

// meta is what a source partition's commit metadata carries besides the
// offset: the producer its messages are published with (see producer),
// and the floors of its target partitions.
type meta struct {
	p      producer
	floors []floor
}

// encodeMeta writes commit metadata for the target cluster to:
// "xr2 <to> p<producer id>.<epoch> <partition>:<offset><k|u> ...".
func encodeMeta(to string, p producer, targets []int, floors []floor) string {
	var sb strings.Builder
	sb.WriteString(metaVersion)
	sb.WriteByte(' ')
	sb.WriteString(to)
	sb.WriteString(" p")
	sb.WriteString(strconv.FormatInt(p.id, 10))
	sb.WriteByte('.')
	sb.WriteString(strconv.Itoa(int(p.epoch)))
	head := sb.Len()
	for _, t := range targets {
		f := floors[t]
		if f.offset < 0 {
			continue
		}
		sb.WriteByte(' ')
		sb.WriteString(strconv.Itoa(t))
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatInt(f.offset, 10))
		if f.known {
			sb.WriteByte('k')
		} else {
			sb.WriteByte('u')
		}
	}
	if sb.Len() > maxMeta {
		return sb.String()[:head]
	}
	return sb.String()
}

// shorterMeta cuts commit metadata that a cluster refused as too large
// down to its producer, and that down to nothing: the floors only speed a
// restart up, and without the producer a new owner sets up a new one.
func shorterMeta(s string) string {
	f := strings.Fields(s)
	if len(f) <= 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// parseMeta reads commit metadata written by encodeMeta (or by the version
// before it) for n target partitions. Metadata for another target cluster,
// from another tool, or malformed in any way yields no producer and no
// floors: a new producer is then set up, and the searches go further back.
func parseMeta(s, to string, n int) meta {
	m := meta{p: noProducer, floors: make([]floor, n)}
	for i := range m.floors {
		m.floors[i] = noFloor
	}
	fields := strings.Fields(s)
	if len(fields) < 2 || (fields[0] != metaVersion && fields[0] != metaV1) || fields[1] != to {
		return m
	}
	fields = fields[2:]
	p := noProducer
	if len(fields) > 0 && strings.HasPrefix(fields[0], "p") {
		id, epoch, ok := strings.Cut(fields[0][1:], ".")
		pid, err1 := strconv.ParseInt(id, 10, 64)
		pe, err2 := strconv.ParseInt(epoch, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return m
		}
		if p = (producer{id: pid, epoch: int16(pe)}); !p.known() {
			p = noProducer
		}
		fields = fields[1:]
	}
	floors := make([]floor, n)
	copy(floors, m.floors)
	for _, f := range fields {
		t, rest, ok := strings.Cut(f, ":")
		if !ok || len(rest) < 2 {
			return m
		}
		part, err1 := strconv.Atoi(t)
		off, err2 := strconv.ParseInt(rest[:len(rest)-1], 10, 64)
		kind := rest[len(rest)-1]
		if err1 != nil || err2 != nil || part < 0 || part >= n || off < 0 || (kind != 'k' && kind != 'u') {
			return m
		}
		floors[part] = floor{offset: off, known: kind == 'k'}
	}
	return meta{p: p, floors: floors}
}

// found is what a search of a target partition found of one source
// partition's messages.
type found struct {
	src int64 // the last source offset found; -1 for none
	at  int64 // where in the target it sits; -1 for none
	end int64 // the target partition's high watermark when searched
	// The producer that wrote it and its sequence number, noProducer for a
	// message written without one.
	p   producer
	seq int32
}

// floor is what the search result says about the next search.
func (f found) floor() floor {
	if f.src >= 0 {
		return floor{offset: f.at, known: true}
	}
	return floor{offset: f.end}
}

// scan searches target partition t backwards from its end for the last
// message read from this worker's source partition, no further back than
// fl allows.
func (w *worker) scan(ctx context.Context, t int, fl floor) (found, error) {
	first, end, err := w.r.bounds(ctx, w.r.dst, w.tp.topic, t, kafka.ReadUncommitted)
	if err != nil {
		return found{}, err
	}
	bound, useFloor := first, fl.offset >= first && fl.offset <= end
	if useFloor {
		bound = fl.offset
	}
	f, err := w.scanDown(ctx, t, bound, end)
	if err != nil || f.src >= 0 {
		return f, err
	}
	if useFloor && fl.known && bound > first {
		// A message of ours should sit at the floor: the target partition
		// is not what it was (recreated, truncated). Search all of it.
		w.r.cfg.logger.Warn("bridge did not find its last message where the committed metadata says; searching the whole target partition",
			"topic", w.tp.topic, "partition", w.tp.partition, "target_partition", t, "floor", fl.offset)
		return w.scanDown(ctx, t, first, end)
	}
	if fl.offset > end {
		w.r.cfg.logger.Warn("bridge found the target partition shorter than when it last committed; it was recreated or truncated",
			"topic", w.tp.topic, "target_partition", t, "floor", fl.offset, "end", end)
	}
	return f, nil
}

// scanDown reads windows of growing size backwards from end until one holds
// a message of ours or bound is reached.
func (w *worker) scanDown(ctx context.Context, t int, bound, end int64) (found, error) {
	window := int64(256)
	for hi := end; hi > bound; window = min(4*window, 1<<16) {
		lo := max(bound, hi-window)
		f, err := w.scanRange(ctx, t, lo, hi)
		if err != nil {
			return found{}, err
		}
		if f.src >= 0 {
			f.end = end
			return f, nil
		}
		hi = lo
	}
	return found{src: -1, at: -1, end: end, p: noProducer}, nil
}

// scanRange returns the last message of ours among target offsets [lo, hi),
// with the producer and sequence number its batch gives it.
func (w *worker) scanRange(ctx context.Context, t int, lo, hi int64) (found, error) {
	f := found{src: -1, at: -1, p: noProducer}
	for off := lo; off < hi; {
		rctx, cancel := context.WithTimeout(ctx, w.r.cfg.requestTimeout)
		resp, err := w.r.dst.Fetch(rctx, &kafka.FetchRequest{Topic: w.tp.topic, Partition: t, Offset: off,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 10 * time.Millisecond})
		cancel()
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return found{}, fmt.Errorf("read target %s/%d at %d: %w", w.tp.topic, t, off, err)
		}
		progress := false
		for _, b := range batchesOf(resp.Records) {
			for {
				rec, err := b.r.ReadRecord()
				if err != nil {
					break
				}
				closeRecord(rec)
				if rec.Offset < off || rec.Offset >= hi {
					continue
				}
				off, progress = rec.Offset+1, true
				for _, h := range rec.Headers {
					if h.Key != HeaderSource {
						continue
					}
					if s, ok := sourceOffset(h.Value, w.prefix); ok && s > f.src {
						f.src, f.at, f.p, f.seq = s, rec.Offset, noProducer, 0
						if b.p.known() && b.seq >= 0 {
							f.p, f.seq = b.p, seqAdd(b.seq, rec.Offset-b.base)
						}
					}
					break
				}
			}
		}
		if !progress {
			if resp.HighWatermark <= off {
				break
			}
			off++ // a gap (compaction, aborted data): step over it
		}
	}
	w.r.contacted()
	return f, nil
}

// batch is one record batch of a fetch: its records, and what its header
// says of the producer that wrote them.
type batch struct {
	r       kafka.RecordReader
	control bool
	p       producer
	seq     int32 // the first record's sequence number, -1 for none
	base    int64 // the first record's offset
}

// batchesOf splits what a fetch returned into its record batches.
func batchesOf(rr kafka.RecordReader) []batch {
	s, ok := rr.(*protocol.RecordStream)
	if !ok {
		return []batch{{r: rr, p: noProducer, seq: -1}}
	}
	bs := make([]batch, 0, len(s.Records))
	for _, r := range s.Records {
		switch b := r.(type) {
		case *protocol.RecordBatch:
			bs = append(bs, batch{r: b, p: producer{b.ProducerID, b.ProducerEpoch}, seq: b.BaseSequence, base: b.BaseOffset})
		case *protocol.ControlBatch:
			bs = append(bs, batch{r: b, control: true, p: noProducer, seq: -1})
		default:
			bs = append(bs, batch{r: r, p: noProducer, seq: -1})
		}
	}
	return bs
}

// bounds returns the first and end (high watermark) offsets of a partition.
func (r *run) bounds(ctx context.Context, c *kafka.Client, topic string, p int, iso kafka.IsolationLevel) (first, end int64, err error) {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	resp, err := c.ListOffsets(rctx, &kafka.ListOffsetsRequest{
		Topics:         map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p)}},
		IsolationLevel: iso,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets of %s/%d: %w", topic, p, err)
	}
	for _, po := range resp.Topics[topic] {
		if po.Partition == p {
			if po.Error != nil {
				return 0, 0, fmt.Errorf("list offsets of %s/%d: %w", topic, p, po.Error)
			}
			return po.FirstOffset, po.LastOffset, nil
		}
	}
	return 0, 0, fmt.Errorf("list offsets of %s/%d: no answer for the partition", topic, p)
}

func closeRecord(rec *kafka.Record) {
	if rec.Key != nil {
		rec.Key.Close()
	}
	if rec.Value != nil {
		rec.Value.Close()
	}
}
