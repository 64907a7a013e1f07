package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xregion/xregion/internal/wait"
)

// worker bridges one source partition for one generation. Two goroutines
// share the work: a fetcher reads the source and encodes what it read into
// produce batches while the publisher sends the previous batches, one at a
// time, so the partition's order holds and the target is never idle waiting
// for a fetch.
type worker struct {
	r         *run
	c         *committer
	pt        *partition
	tp        topicPartition
	nTarget   int
	targets   []int  // the target partitions this source partition writes to
	prefix    []byte // HeaderSource of our messages up to the offset
	hops      []byte // HeaderHops of a message that starts here
	committed commitState
	limit     atomic.Int64 // bound on a produce batch's bytes; lowered when the target finds one too large
	bo        *wait.Backoff

	start int64 // the source offset the worker resumed at

	// Owned by the fetcher: sizes of the last chunk, to allocate the next.
	hint struct{ bytes, headers, records int }

	// Owned by the publisher once the fetcher runs.
	last   []int64    // per target partition: the last source offset of ours found there; -1 none
	floors []floor    // per target partition: see floor
	seqs   []sequence // per target partition: the producer and sequence of the next publish
	pid    producer   // the source partition's producer, as committed: for target partitions without one
}

func newWorker(r *run, c *committer, pt *partition, nTarget int, cm commitState) *worker {
	w := &worker{
		r: r, c: c, pt: pt, tp: topicPartition{pt.topic, pt.p}, nTarget: nTarget, committed: cm,
		prefix: sourcePrefix(r.from, pt.topic, pt.p),
		hops:   []byte(r.from + "," + r.to),
		last:   make([]int64, nTarget),
		floors: make([]floor, nTarget),
		seqs:   make([]sequence, nTarget),
		pid:    noProducer,
		bo:     r.backoff(),
	}
	if r.cfg.mapping == SamePartition {
		w.targets = []int{pt.p}
	} else {
		for t := range nTarget {
			w.targets = append(w.targets, t)
		}
	}
	for t := range w.last {
		w.last[t], w.floors[t], w.seqs[t] = -1, noFloor, sequence{p: noProducer}
	}
	w.limit.Store(int64(r.cfg.maxBatchBytes))
	return w
}

// run bridges the partition until ctx ends.
func (w *worker) run(ctx context.Context) {
	pos, ok := w.resume(ctx)
	if !ok {
		return
	}
	ch := make(chan *chunk, 1)
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.fetch(fctx, pos, ch) })
	w.publishLoop(ctx, ch)
	cancel()
	wg.Wait()
	<-ctx.Done() // a stopped partition stays held, so it is not handed to another process to fail there too
}

// resume finds where the partition stands: it searches the target for the
// last message it holds from this source partition and starts right after
// it, whatever the committed offset says. The committed offset only helps
// when it is further (past messages that were never to be published:
// echoes, dead letters), and under KeyHash, where a source partition's
// messages are spread over every target partition, reading starts at the
// committed offset and each message is checked against the partition it
// goes to.
//
// The same search says which producer wrote that last message, and its
// sequence number: the worker continues that producer's sequence, so that
// a former owner still publishing cannot add the same messages again (see
// producer).
func (w *worker) resume(ctx context.Context) (int64, bool) {
	m := parseMeta(w.committed.meta, w.r.to, w.nTarget)
	err := w.retry(ctx, targetSide, "scan", func(ctx context.Context) error {
		for _, t := range w.targets {
			f, err := w.scan(ctx, t, m.floors[t])
			if err != nil {
				return err
			}
			w.learn(t, f)
		}
		return nil
	})
	if err != nil {
		return 0, false
	}
	pos := w.committed.offset
	found := int64(-1)
	if w.r.cfg.mapping == SamePartition {
		found = w.last[w.tp.partition]
		if found >= 0 {
			if pos >= 0 && found+1 > pos {
				w.pt.pm.add(w.pt.pm.dedupe, int(found+1-pos))
			}
			pos = max(pos, found+1)
		}
	}
	if pos < 0 {
		err := w.retry(ctx, sourceSide, "start offset", func(ctx context.Context) error {
			first, end, err := w.r.bounds(ctx, w.r.src, w.tp.topic, w.tp.partition, kafka.ReadCommitted)
			if w.r.cfg.startOffset == kafka.LastOffset {
				pos = end
			} else {
				pos = first
			}
			return err
		})
		if err != nil {
			return 0, false
		}
	}
	w.start = pos
	if !w.producerFor(ctx, m.p) {
		return 0, false
	}
	w.r.cfg.logger.Info("bridge resuming partition", "topic", w.tp.topic, "partition", w.tp.partition,
		"at", pos, "committed", w.committed.offset, "last_in_target", found, "producer", w.pid.id)
	w.pt.setNext(pos)
	return pos, true
}

// learn takes in what a search of target partition t found: the last
// message of ours there, where it sits, and the producer sequence it ends.
func (w *worker) learn(t int, f found) {
	if f.src < 0 {
		if w.last[t] < 0 {
			w.floors[t] = f.floor()
		}
		return
	}
	if f.src < w.last[t] {
		return // older than what this worker published itself
	}
	w.last[t], w.floors[t] = f.src, f.floor()
	if f.p.known() {
		w.seqs[t] = sequence{p: f.p, next: seqAdd(f.seq, 1)}
	}
}

// producerFor settles the producer of the target partitions that hold
// nothing of ours written with one: the one the committed metadata names
// (set up by an earlier owner, whose batches may still be on their way),
// else one the target partitions already show, else a new one, which is
// committed, and so made known to any later owner, before anything is
// published with it. It reports false when ctx ended or the generation did.
func (w *worker) producerFor(ctx context.Context, committed producer) bool {
	w.pid = committed
	for _, t := range w.targets {
		if !w.pid.known() && w.seqs[t].p.known() {
			w.pid = w.seqs[t].p
		}
	}
	if !w.pid.known() {
		return w.switchProducer(ctx)
	}
	for _, t := range w.targets {
		if !w.seqs[t].p.known() {
			w.seqs[t] = sequence{p: w.pid}
		}
	}
	return true
}

// switchProducer sets up a new producer for the target partitions that
// have none (all of them on a first start), and commits it before anything
// is published with it. It reports false when ctx ended or the generation
// did.
func (w *worker) switchProducer(ctx context.Context) bool {
	var p producer
	err := w.retry(ctx, targetSide, "init producer id", func(ctx context.Context) error {
		var err error
		p, err = w.r.newProducer(ctx)
		return err
	})
	if err != nil {
		return false
	}
	w.pid = p
	for _, t := range w.targets {
		if !w.seqs[t].p.known() {
			w.seqs[t] = sequence{p: p}
		}
	}
	err = w.retry(ctx, sourceSide, "commit producer", func(ctx context.Context) error {
		return w.c.commitNow(ctx, w.tp, w.start, w.meta())
	})
	return err == nil
}

// meta is the commit metadata of where the worker stands now.
func (w *worker) meta() string {
	return encodeMeta(w.r.to, w.pid, w.targets, w.floors)
}

// retry calls f until it succeeds or ctx ends, recording failures against
// the partition on side s.
func (w *worker) retry(ctx context.Context, s side, op string, f func(context.Context) error) error {
	for {
		err := f(ctx)
		if err == nil {
			w.r.ok(w.pt, s)
			w.bo.Reset()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.r.fail(w.pt, s, op, err)
		if w.bo.Wait(ctx) != nil {
			return ctx.Err()
		}
	}
}

// chunk is what one fetch produced: batches ready to publish, in order, and
// how far the source has been read.
type chunk struct {
	start, next  int64 // source offsets: where the fetch started, and after its last message
	batches      []*outBatch
	echoes, dups int
}

// outBatch is one produce request: records for one target partition and
// their encoding.
type outBatch struct {
	target  int
	recs    []record
	payload []byte
	est     int // bound on the encoded size
}

func (b *outBatch) encode(c kafka.Compression) {
	b.payload = appendBatch(make([]byte, 0, b.est+batchOverhead), b.recs, c)
}

// fetch reads the source from pos until ctx ends, handing chunks to out.
func (w *worker) fetch(ctx context.Context, pos int64, out chan<- *chunk) {
	defer close(out)
	bo := w.r.backoff()
	last := slices.Clone(w.last)
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, w.r.cfg.fetchMaxWait+w.r.cfg.requestTimeout)
		resp, err := w.r.src.Fetch(rctx, &kafka.FetchRequest{Topic: w.tp.topic, Partition: w.tp.partition,
			Offset: pos, MinBytes: 1, MaxBytes: int64(w.r.cfg.fetchMaxBytes), MaxWait: w.r.cfg.fetchMaxWait,
			IsolationLevel: kafka.ReadCommitted})
		cancel()
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				if p, ok := w.outOfRange(ctx, pos); ok {
					pos = p
					continue
				}
			}
			w.r.fail(w.pt, sourceSide, "fetch", err)
			bo.Wait(ctx)
			continue
		}
		w.r.ok(w.pt, sourceSide)
		bo.Reset()
		end := resp.HighWatermark
		if resp.LastStableOffset > 0 {
			end = min(end, resp.LastStableOffset) // what read-committed can see
		}
		w.pt.setEnd(end)
		c := w.decode(resp.Records, pos, last)
		if c.next == pos {
			continue
		}
		pos = c.next
		select {
		case out <- c:
		case <-ctx.Done():
			return
		}
	}
}

// outOfRange handles a position the source no longer (or not yet) has.
func (w *worker) outOfRange(ctx context.Context, pos int64) (int64, bool) {
	first, end, err := w.r.bounds(ctx, w.r.src, w.tp.topic, w.tp.partition, kafka.ReadCommitted)
	switch {
	case err != nil:
		return pos, false
	case pos < first:
		w.pt.pm.add(w.pt.pm.skipped, int(first-pos))
		w.r.cfg.logger.Error("bridge lost messages: the source deleted them (retention) before they were bridged",
			"topic", w.tp.topic, "partition", w.tp.partition, "from", pos, "to", first-1, "count", first-pos)
		return first, true
	case pos > end:
		w.r.cfg.logger.Error("bridge found the source partition shorter than what it bridged (truncated by an unclean leader election?); continuing at its end",
			"topic", w.tp.topic, "partition", w.tp.partition, "position", pos, "end", end)
		return end, true
	}
	return pos, false
}

// decode turns a fetch response into a chunk: it drops what is before pos,
// control records, echoes and messages the target already holds (last),
// adds the provenance headers and groups the rest into produce batches.
func (w *worker) decode(rr kafka.RecordReader, pos int64, last []int64) *chunk {
	c := &chunk{start: pos, next: pos}
	var (
		arena = blocks[byte]{next: w.hint.bytes}
		hdrs  = blocks[header]{next: w.hint.headers}
		out   = batcher{limit: int(w.limit.Load()), hint: w.hint.records, open: map[int]*outBatch{}}
		now   = w.r.cfg.clock.Now()
	)
read:
	for _, b := range batchesOf(rr) {
		for {
			m, err := b.r.ReadRecord()
			if err != nil {
				break // io.EOF, or a damaged batch: the next fetch starts after what was read
			}
			if m.Offset < c.next || b.control {
				closeRecord(m)
				c.next = max(c.next, m.Offset+1)
				continue
			}
			rec := record{offset: m.Offset, ts: m.Time.UnixMilli()}
			var keyOK, valueOK bool
			rec.key, rec.nullKey, keyOK = readInto(&arena, m.Key)
			rec.value, rec.nullVal, valueOK = readInto(&arena, m.Value)
			if !keyOK || !valueOK {
				break read // the next fetch reads this message again
			}
			c.next = m.Offset + 1
			w.pt.pm.observe(w.pt.pm.recordAge, float64(now.Sub(m.Time).Milliseconds()))

			hs, prov := splitHeaders(m.Headers, w.r.cfg.idHeader, hdrs.alloc(len(m.Headers) + 4)[:0])
			if prov.hops != nil && hopsContain(prov.hops, w.r.to) {
				c.echoes++
				continue
			}
			rec.target = w.r.cfg.mapping.targetPartition(w.tp.partition, rec.key, rec.nullKey, w.nTarget)
			if rec.offset <= last[rec.target] {
				c.dups++
				continue
			}
			rec.headers = w.withProvenance(hs, prov, rec.offset, &arena)
			out.add(rec)
		}
	}
	c.batches = out.close(w.targets)
	for _, b := range c.batches {
		b.encode(w.r.cfg.compression)
		w.hint.records = max(w.hint.records, len(b.recs))
	}
	// Size the next chunk's blocks for a fetch like this one, so one
	// allocation each holds it (bounded, so one huge fetch is not kept as the
	// measure forever).
	w.hint.bytes = min(max(arena.used, 4<<10), 8<<20)
	w.hint.headers = min(max(hdrs.used, 64), 1<<16)
	return c
}

// provenance is what a source message's headers say of where it has been:
// the bridge's own headers, if an earlier bridge added them, and the
// caller's id header (WithIDHeader), if any.
type provenance struct {
	hops, id, origin, userID []byte
}

// splitHeaders appends to dst the headers of a source message that the
// bridge carries over, the source's own, and returns them with the
// provenance the others held. The bridge's own are dropped: it writes them
// afresh, from a hop list without empty names.
func splitHeaders(hs []kafka.Header, idKey string, dst []header) ([]header, provenance) {
	var p provenance
	for _, h := range hs {
		if strings.HasPrefix(h.Key, headerPrefix) {
			switch h.Key {
			case HeaderHops:
				p.hops = cleanHops(h.Value)
				continue
			case HeaderID:
				p.id = h.Value
				continue
			case HeaderOrigin:
				p.origin = h.Value
				continue
			case HeaderSource:
				continue
			}
		}
		if idKey != "" && h.Key == idKey && p.userID == nil {
			p.userID = h.Value
		}
		dst = append(dst, header{h.Key, h.Value})
	}
	return dst, p
}

// withProvenance appends the bridge's four headers to hs, for the message
// at source offset off: its id (the one it came with, else the caller's,
// else its source position), its origin, the hops with this bridge's
// clusters added, and its source position. hs has room for them.
func (w *worker) withProvenance(hs []header, p provenance, off int64, arena *blocks[byte]) []header {
	var digits [20]byte
	n := strconv.AppendInt(digits[:0], off, 10)
	src := arena.alloc(len(w.prefix) + len(n))
	copy(src[copy(src, w.prefix):], n)
	from, to := w.r.from, w.r.to
	id := p.id
	if id == nil {
		id = p.userID
	}
	if id == nil {
		id = src
	}
	origin := p.origin
	if origin == nil && p.hops != nil {
		origin, _, _ = bytes.Cut(p.hops, []byte{','})
	}
	if origin == nil {
		origin = w.hops[:len(from)]
	}
	hops := w.hops
	if p.hops != nil {
		via := ""
		if !hopsEndWith(p.hops, from) {
			via = "," + from
		}
		h := arena.alloc(len(p.hops) + len(via) + 1 + len(to))[:0]
		hops = append(append(append(append(h, p.hops...), via...), ','), to...)
	}
	return append(hs, header{HeaderID, id}, header{HeaderOrigin, origin}, header{HeaderHops, hops},
		header{HeaderSource, src})
}

// batcher groups a chunk's records into produce batches: one open batch per
// target partition, closed when the next record would take it past limit.
type batcher struct {
	limit int // bytes per batch
	hint  int // records to make room for in a new batch
	open  map[int]*outBatch
	done  []*outBatch
}

func (b *batcher) add(rec record) {
	size := rec.maxSize()
	ob := b.open[rec.target]
	if ob != nil && ob.est+size > b.limit {
		b.done = append(b.done, ob)
		ob = nil
	}
	if ob == nil {
		ob = &outBatch{target: rec.target, recs: make([]record, 0, b.hint)}
		b.open[rec.target] = ob
	}
	ob.recs = append(ob.recs, rec)
	ob.est += size
}

// close returns the batches, the open ones last in the order of targets.
func (b *batcher) close(targets []int) []*outBatch {
	for _, t := range targets {
		if ob := b.open[t]; ob != nil {
			b.done = append(b.done, ob)
		}
	}
	return b.done
}

// blocks hands out slices from large blocks, so that many small values cost
// few allocations and no copying as they accumulate: a block is never grown,
// a full one is left to the slices in it and a new one started.
type blocks[T any] struct {
	cur  []T
	next int // the size of the next block
	used int // elements handed out so far
}

func (b *blocks[T]) alloc(n int) []T {
	if cap(b.cur)-len(b.cur) < n {
		b.cur = make([]T, 0, max(n, b.next))
		b.next = min(2*max(b.next, 1), 8<<20)
	}
	s := b.cur[len(b.cur) : len(b.cur)+n : len(b.cur)+n]
	b.cur = b.cur[:len(b.cur)+n]
	b.used += n
	return s
}

// readInto copies a key or value into the arena and releases the fetch
// buffer it came from. It reports whether b was null, and false if it could
// not be read.
func readInto(arena *blocks[byte], b kafka.Bytes) (v []byte, null, ok bool) {
	if b == nil {
		return nil, true, true
	}
	defer b.Close()
	v = arena.alloc(b.Len())
	if _, err := io.ReadFull(b, v); err != nil {
		return nil, false, false
	}
	return v, false, true
}

func hopsEndWith(list []byte, name string) bool {
	return len(list) >= len(name) && string(list[len(list)-len(name):]) == name &&
		(len(list) == len(name) || list[len(list)-len(name)-1] == ',')
}

// publishLoop publishes chunks in order, committing after each, until ctx
// ends or the partition stops.
func (w *worker) publishLoop(ctx context.Context, in <-chan *chunk) {
	h := w.r.cfg.hooks
	for c := range in {
		w.pt.pm.add(w.pt.pm.echoes, c.echoes)
		w.pt.pm.add(w.pt.pm.dedupe, c.dups)
		for i, b := range c.batches {
			w.pt.setOldest(b.recs[0].offset, time.UnixMilli(b.recs[0].ts))
			if h.beforePublish != nil {
				h.beforePublish(w.tp.topic, w.tp.partition, i)
			}
			if !w.publish(ctx, b) {
				return
			}
		}
		w.pt.setNext(c.next)
		w.c.set(w.tp, c.next, w.meta())
	}
}

// publish sends one batch to the target, with acknowledgement from all
// in-sync replicas, until it is in. The batch carries the producer and the
// next sequence number of its target partition, so the target appends it
// only where it continues the sequence: sent again after a failure whose
// outcome is unknown, it is recognised if it was written after all; and if
// another writer got there first (an earlier owner of the partition still
// publishing), it is refused, and the worker reads back what that writer
// published and sends only the rest. It reports false when ctx ended or
// the partition stopped.
func (w *worker) publish(ctx context.Context, b *outBatch) bool {
	t := b.target
	refused, stuck := false, 0
	for {
		if refused {
			before := w.seqs[t]
			f, err := w.verify(ctx, t)
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				w.r.fail(w.pt, targetSide, "scan", err)
				if w.bo.Wait(ctx) != nil {
					return false
				}
				continue
			}
			refused = false
			if n := b.trim(f.src); n > 0 {
				w.pt.pm.add(w.pt.pm.dedupe, n)
				w.r.cfg.logger.Info("bridge found messages it was about to publish already in the target, written by another owner; not sending them again",
					"topic", w.tp.topic, "partition", w.tp.partition, "messages", n)
			}
			if len(b.recs) == 0 {
				return true
			}
			if w.seqs[t] != before {
				stuck = 0
			} else if stuck++; stuck == 2 {
				// The target refused the sequence twice, yet holds nothing
				// of ours past it: it lost the producer's state there, or
				// keeps state its log no longer shows (compaction removed our
				// last messages). Carry on with a new producer.
				stuck = 0
				w.r.cfg.logger.Warn("bridge target refused its producer sequence with nothing new in the target; switching to a new producer",
					"topic", w.tp.topic, "partition", w.tp.partition, "target_partition", t, "producer", before.p.id, "sequence", before.next)
				w.seqs[t].p = noProducer
				if !w.switchProducer(ctx) {
					return false
				}
			}
		}
		if b.payload == nil {
			b.encode(w.r.cfg.compression)
		}
		if ctx.Err() != nil {
			return false
		}
		seq := w.seqs[t]
		stamp(b.payload, seq.p, seq.next)
		rctx, cancel := context.WithTimeout(ctx, w.r.cfg.requestTimeout)
		resp, err := w.r.dst.RawProduce(rctx, &kafka.RawProduceRequest{Topic: w.tp.topic, Partition: t,
			RequiredAcks: kafka.RequireAll, RawRecords: rawRecords(b.payload)})
		cancel()
		if err == nil {
			err = resp.Error
		}
		if err == nil {
			n := len(b.recs)
			w.seqs[t].next = seqAdd(seq.next, int64(n))
			w.last[t] = b.recs[n-1].offset
			w.floors[t] = floor{offset: resp.BaseOffset + int64(n) - 1, known: true}
			w.r.ok(w.pt, targetSide)
			w.bo.Reset()
			w.r.contacted()
			w.published(b)
			if h := w.r.cfg.hooks.afterPublish; h != nil {
				h(w.tp.topic, w.tp.partition)
			}
			w.done(b.recs[n-1].offset)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if permanent(err) {
			return w.refusedBatch(ctx, b, err)
		}
		refused = sequenceRefused(err)
		w.r.fail(w.pt, targetSide, "publish", err)
		if w.bo.Wait(ctx) != nil {
			return false
		}
	}
}

// done records that everything up to source offset off is in the target
// (or dead-lettered), when that holds: under SamePartition a partition's
// messages are published in offset order; under KeyHash only a whole chunk
// says so.
func (w *worker) done(off int64) {
	if w.r.cfg.mapping != SamePartition {
		return
	}
	w.pt.setNext(off + 1)
	w.c.set(w.tp, off+1, w.meta())
}

func (w *worker) published(b *outBatch) {
	pm := &w.pt.pm
	var bytes int
	now := w.r.cfg.clock.Now().UnixMilli()
	for i := range b.recs {
		bytes += len(b.recs[i].key) + len(b.recs[i].value)
		pm.observe(pm.latency, float64(now-b.recs[i].ts))
	}
	pm.add(pm.records, len(b.recs))
	pm.add(pm.bytes, bytes)
	w.pt.bytes.Add(int64(bytes))
}

// verify searches the target for this source partition's last message,
// and searches again after a pause until two searches agree, so that a
// publish still in flight when the first one ran (held by the network,
// queued at the broker) is seen before the worker decides what to send.
func (w *worker) verify(ctx context.Context, t int) (found, error) {
	f, err := w.scan(ctx, t, w.floors[t])
	for i := 0; err == nil && i < 5; i++ {
		if err := wait.Sleep(ctx, w.r.cfg.clock, w.r.cfg.settle); err != nil {
			return found{}, err
		}
		var g found
		if g, err = w.scan(ctx, t, w.floors[t]); err == nil && g.src == f.src {
			break
		}
		f = g
	}
	if err != nil {
		return found{}, err
	}
	w.learn(t, f)
	return f, nil
}

// trim drops the records at or before source offset upTo and reports how
// many it dropped.
func (b *outBatch) trim(upTo int64) int {
	i := 0
	for i < len(b.recs) && b.recs[i].offset <= upTo {
		i++
	}
	if i > 0 {
		b.recs, b.payload = b.recs[i:], nil
	}
	return i
}

// refusedBatch handles a batch the target refused for good: it is split
// until the refused message is alone, which goes to the dead-letter topic or
// stops the partition.
func (w *worker) refusedBatch(ctx context.Context, b *outBatch, err error) bool {
	if len(b.recs) == 1 {
		return w.refused(ctx, &b.recs[0], b.target, err)
	}
	if errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.RecordListTooLarge) {
		w.limit.Store(max(1024, int64(len(b.payload)/2)))
	}
	half := len(b.recs) / 2
	first := &outBatch{target: b.target, recs: b.recs[:half:half]}
	second := &outBatch{target: b.target, recs: b.recs[half:]}
	for _, r := range first.recs {
		first.est += r.maxSize()
	}
	for _, r := range second.recs {
		second.est += r.maxSize()
	}
	return w.publish(ctx, first) && w.publish(ctx, second)
}

// refused sends a message the target refused for good to the dead-letter
// topic, or stops the partition when there is none.
func (w *worker) refused(ctx context.Context, rec *record, target int, cause error) bool {
	rerr := &RefusedError{Topic: w.tp.topic, Partition: w.tp.partition, Offset: rec.offset, Err: cause}
	dlq := w.r.cfg.deadLetter
	if dlq == "" {
		w.r.stop(w.pt, rerr)
		return false
	}
	dl := *rec
	dl.headers = append(slices.Clip(rec.headers), header{HeaderReason, []byte(cause.Error())})
	payload := appendBatch(nil, []record{dl}, w.r.cfg.compression)
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, w.r.cfg.requestTimeout)
		resp, err := w.r.dst.RawProduce(rctx, &kafka.RawProduceRequest{Topic: dlq, Partition: w.tp.partition % max(w.r.dlqParts, 1),
			RequiredAcks: kafka.RequireAll, RawRecords: rawRecords(payload)})
		cancel()
		if err == nil {
			err = resp.Error
		}
		switch {
		case err == nil:
			w.r.ok(w.pt, targetSide)
			w.pt.pm.add(w.pt.pm.deadLetters, 1)
			w.done(rec.offset)
			w.r.cfg.logger.Warn("bridge sent a message the target refuses to the dead-letter topic",
				"topic", w.tp.topic, "partition", w.tp.partition, "offset", rec.offset, "target_partition", target,
				"dead_letter", dlq, "reason", cause)
			return true
		case ctx.Err() != nil:
			return false
		case permanent(err):
			w.r.stop(w.pt, &RefusedError{Topic: w.tp.topic, Partition: w.tp.partition, Offset: rec.offset,
				Err: errors.Join(cause, err)})
			return false
		}
		w.r.fail(w.pt, targetSide, "dead-letter", err)
		if w.bo.Wait(ctx) != nil {
			return false
		}
	}
	return false
}
