package bridge

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
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

// metaVersion starts the commit metadata the bridge writes.
const metaVersion = "xr1"

// maxMeta keeps commit metadata under Kafka's default
// offset.metadata.max.bytes (4096); past it the floors are left out, which
// costs longer searches, never correctness.
const maxMeta = 4000

// encodeFloors writes the floors of a source partition's target partitions
// as commit metadata: "xr1 <target cluster> <partition>:<offset><k|u> ...".
func encodeFloors(to string, targets []int, floors []floor) string {
	var sb strings.Builder
	sb.WriteString(metaVersion)
	sb.WriteByte(' ')
	sb.WriteString(to)
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
		return metaVersion + " " + to
	}
	return sb.String()
}

// parseFloors reads commit metadata written by encodeFloors for n target
// partitions. Metadata for another target cluster, from another tool, or
// malformed in any way yields no floors: they only speed the search up.
func parseFloors(meta, to string, n int) []floor {
	floors := make([]floor, n)
	for i := range floors {
		floors[i] = noFloor
	}
	fields := strings.Fields(meta)
	if len(fields) < 2 || fields[0] != metaVersion || fields[1] != to {
		return floors
	}
	for _, f := range fields[2:] {
		t, rest, ok := strings.Cut(f, ":")
		if !ok || len(rest) < 2 {
			return floors
		}
		p, err1 := strconv.Atoi(t)
		off, err2 := strconv.ParseInt(rest[:len(rest)-1], 10, 64)
		kind := rest[len(rest)-1]
		if err1 != nil || err2 != nil || p < 0 || p >= n || off < 0 || (kind != 'k' && kind != 'u') {
			return floors
		}
		floors[p] = floor{offset: off, known: kind == 'k'}
	}
	return floors
}

// found is what a search of a target partition found of one source
// partition's messages.
type found struct {
	src int64 // the last source offset found; -1 for none
	at  int64 // where in the target it sits; -1 for none
	end int64 // the target partition's high watermark when searched
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
		src, at, err := w.scanRange(ctx, t, lo, hi)
		if err != nil {
			return found{}, err
		}
		if src >= 0 {
			return found{src: src, at: at, end: end}, nil
		}
		hi = lo
	}
	return found{src: -1, at: -1, end: end}, nil
}

// scanRange returns the last message of ours among target offsets [lo, hi).
func (w *worker) scanRange(ctx context.Context, t int, lo, hi int64) (src, at int64, err error) {
	src, at = -1, -1
	for off := lo; off < hi; {
		rctx, cancel := context.WithTimeout(ctx, w.r.cfg.requestTimeout)
		resp, err := w.r.dst.Fetch(rctx, &kafka.FetchRequest{Topic: w.tp.topic, Partition: t, Offset: off,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 10 * time.Millisecond})
		cancel()
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return -1, -1, fmt.Errorf("read target %s/%d at %d: %w", w.tp.topic, t, off, err)
		}
		progress := false
		for {
			rec, err := resp.Records.ReadRecord()
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
				if s, ok := sourceOffset(h.Value, w.prefix); ok && s > src {
					src, at = s, rec.Offset
				}
				break
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
	return src, at, nil
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
