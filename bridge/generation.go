package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/segmentio/kafka-go"
)

// generation bridges the partitions one consumer group generation assigned
// to this process, until the generation or the run ends. Commits carry the
// generation's id and stop with it. A process the group moved on without
// (its session expired while it was cut off, or it came back too late to a
// rebalance) cannot know it until the coordinator refuses one of its
// commits; until then it commits and publishes as a zombie, and both are
// fenced: the coordinator refuses a commit of an old generation, and the
// target refuses a publish that does not continue its producer's sequence.
func (r *run) generation(runCtx, gctx context.Context, gen *kafka.Generation) error {
	ctx, cancel := context.WithCancel(runCtx)
	defer cancel()
	stop := context.AfterFunc(gctx, cancel)
	defer stop()

	var assigned []topicPartition
	for topic, parts := range gen.Assignments {
		for _, pa := range parts {
			assigned = append(assigned, topicPartition{topic, pa.ID})
		}
	}
	sort.Slice(assigned, func(i, j int) bool {
		if assigned[i].topic != assigned[j].topic {
			return assigned[i].topic < assigned[j].topic
		}
		return assigned[i].partition < assigned[j].partition
	})
	r.cfg.logger.Info("bridge joined generation", "group", r.b.group, "generation", gen.ID, "partitions", len(assigned))
	if len(assigned) == 0 {
		<-ctx.Done()
		return nil
	}

	// Partition counts may have changed since the last generation (a
	// partition added to the source starts one).
	counts, err := r.checkCounts(ctx, false)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.setCounts(counts)
	committed, err := r.committed(ctx, assigned)
	if err != nil {
		return nil // ctx ended
	}
	if h := r.cfg.hooks.assigned; h != nil {
		byTopic := map[string][]int{}
		for _, tp := range assigned {
			byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
		}
		for t, ps := range byTopic {
			h(t, ps)
		}
	}

	c := &committer{r: r, gen: gen, wake: make(chan struct{}, 1)}
	c.mu.want = map[topicPartition]kafka.OffsetCommit{}
	c.mu.sent = map[topicPartition]int64{}
	parts := make([]*partition, 0, len(assigned))
	workers := make([]*worker, 0, len(assigned))
	for _, tp := range assigned {
		cm := committed[tp]
		c.mu.sent[tp] = cm.offset
		pt := newPartition(tp.topic, tp.partition, r.cfg.metrics.partition(r.from, r.to, tp.topic, tp.partition), r.cfg.clock)
		parts = append(parts, pt)
		workers = append(workers, newWorker(r, c, pt, counts[tp.topic][1], cm))
	}
	r.b.hold(parts)
	defer func() {
		r.b.release(parts)
		for _, pt := range parts {
			pt.pm.forget()
		}
	}()

	var wg sync.WaitGroup
	wg.Go(func() { c.run(ctx) })
	for _, w := range workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	// The workers are done: commit what they finished, unless the
	// coordinator already said the generation is over. This still belongs
	// to the generation: kafka-go rejoins only after it.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(runCtx), r.cfg.requestTimeout)
	c.flush(fctx)
	fcancel()
	r.cfg.logger.Info("bridge left generation", "group", r.b.group, "generation", gen.ID)
	return nil
}

// commitState is a partition's committed offset and metadata at assignment.
type commitState struct {
	offset int64 // -1 when none
	meta   string
}

// committed reads the group's committed offsets with their metadata.
func (r *run) committed(ctx context.Context, assigned []topicPartition) (map[topicPartition]commitState, error) {
	req := map[string][]int{}
	for _, tp := range assigned {
		req[tp.topic] = append(req[tp.topic], tp.partition)
	}
	out := map[topicPartition]commitState{}
	err := r.retry(ctx, "committed offsets", func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
		defer cancel()
		resp, err := r.src.OffsetFetch(rctx, &kafka.OffsetFetchRequest{GroupID: r.b.group, Topics: req})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return err
		}
		for t, ps := range resp.Topics {
			for _, p := range ps {
				if p.Error != nil {
					return fmt.Errorf("committed offset of %s/%d: %w", t, p.Partition, p.Error)
				}
				out[topicPartition{t, p.Partition}] = commitState{offset: p.CommittedOffset, meta: p.Metadata}
			}
		}
		return nil
	})
	for _, tp := range assigned {
		if _, ok := out[tp]; !ok {
			out[tp] = commitState{offset: -1}
		}
	}
	return out, err
}

// committer commits the offsets the workers finished, for every partition
// of one generation, in one request at a time: the latest offset of each
// partition wins, so a slow commit never holds up the data. A commit is
// synchronous (its answer is checked), per-partition offsets only move
// forward, and commits stop at the first sign the generation is over.
type committer struct {
	r    *run
	gen  *kafka.Generation
	wake chan struct{}
	send sync.Mutex // held while a commit is on its way, so commits never overtake each other
	mu   struct {
		sync.Mutex
		want map[topicPartition]kafka.OffsetCommit
		sent map[topicPartition]int64 // the highest offset committed (or found committed)
		over bool                     // the coordinator ended the generation
	}
}

// set asks for offset to be committed for tp, with metadata meta.
func (c *committer) set(tp topicPartition, offset int64, meta string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.over || offset <= c.mu.sent[tp] {
		return
	}
	if w, ok := c.mu.want[tp]; ok && w.Offset >= offset {
		return
	}
	c.mu.want[tp] = kafka.OffsetCommit{Partition: tp.partition, Offset: offset, Metadata: meta}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run commits whenever a worker asks, until ctx ends.
func (c *committer) run(ctx context.Context) {
	bo := c.r.backoff()
	for {
		select {
		case <-c.wake:
		case <-ctx.Done():
			return
		}
		err := c.flush(ctx)
		if err == nil {
			bo.Reset()
			continue
		}
		if ctx.Err() != nil || bo.Wait(ctx) != nil {
			return
		}
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// flush sends the wanted offsets in one request.
func (c *committer) flush(ctx context.Context) error {
	c.send.Lock()
	defer c.send.Unlock()
	c.mu.Lock()
	if c.mu.over || len(c.mu.want) == 0 {
		c.mu.Unlock()
		return nil
	}
	want := c.mu.want
	c.mu.want = map[topicPartition]kafka.OffsetCommit{}
	c.mu.Unlock()

	failed := c.commit(ctx, want)

	c.mu.Lock()
	defer c.mu.Unlock()
	var firstErr error
	for tp, oc := range want {
		ferr, bad := failed[tp]
		if !bad {
			continue
		}
		if errors.Is(ferr, kafka.OffsetMetadataTooLarge) {
			oc.Metadata = shorterMeta(oc.Metadata)
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("commit offsets of group %s: %w", c.gen.GroupID, ferr)
		}
		// Put it back unless a later offset is already wanted.
		if w, ok := c.mu.want[tp]; !ok || w.Offset < oc.Offset {
			c.mu.want[tp] = oc
		}
	}
	if c.mu.over {
		c.mu.want = map[topicPartition]kafka.OffsetCommit{}
		c.r.cfg.logger.Info("bridge stops committing: the group moved to a new generation", "generation", c.gen.ID, "err", firstErr)
		return nil
	}
	switch {
	case firstErr == nil:
		c.r.b.setErr(nil) // the coordinator answers again
	case !errors.Is(firstErr, context.Canceled):
		c.r.b.setErr(firstErr)
		c.r.cfg.logger.Debug("bridge commit failed; retrying", "err", firstErr)
	}
	return firstErr
}

// commitNow commits offset (or the partition's latest, if that is further)
// with metadata meta for tp, and returns once the coordinator accepted it:
// for what must be known to the partition's next owner before the worker
// goes on. It fails with errGenerationOver once the generation has ended.
func (c *committer) commitNow(ctx context.Context, tp topicPartition, offset int64, meta string) error {
	c.send.Lock()
	defer c.send.Unlock()
	c.mu.Lock()
	if c.mu.over {
		c.mu.Unlock()
		return errGenerationOver
	}
	offset = max(offset, c.mu.sent[tp])
	if w, ok := c.mu.want[tp]; ok {
		offset = max(offset, w.Offset)
		delete(c.mu.want, tp)
	}
	c.mu.Unlock()

	oc := kafka.OffsetCommit{Partition: tp.partition, Offset: offset, Metadata: meta}
	err := c.commit(ctx, map[topicPartition]kafka.OffsetCommit{tp: oc})[tp]
	if errors.Is(err, kafka.OffsetMetadataTooLarge) && shorterMeta(meta) != "" {
		oc.Metadata = shorterMeta(meta)
		err = c.commit(ctx, map[topicPartition]kafka.OffsetCommit{tp: oc})[tp]
	}
	switch {
	case err == nil:
		return nil
	case generationOver(err):
		return errGenerationOver
	}
	return fmt.Errorf("commit offset of %s/%d: %w", tp.topic, tp.partition, err)
}

// errGenerationOver is what commitNow returns once the coordinator has said
// the generation is over; retry gives up on it.
var errGenerationOver = permanentErr{errors.New("bridge: the consumer group generation is over")}

// commit sends offsets in one request and records which partitions the
// coordinator accepted; it returns the errors of the others.
func (c *committer) commit(ctx context.Context, offsets map[topicPartition]kafka.OffsetCommit) map[topicPartition]error {
	if h := c.r.cfg.hooks.beforeCommit; h != nil {
		h()
	}
	req := map[string][]kafka.OffsetCommit{}
	for tp, oc := range offsets {
		req[tp.topic] = append(req[tp.topic], oc)
	}
	rctx, cancel := context.WithTimeout(ctx, c.r.cfg.requestTimeout)
	defer cancel()
	resp, err := c.r.src.OffsetCommit(rctx, &kafka.OffsetCommitRequest{
		GroupID: c.gen.GroupID, GenerationID: int(c.gen.ID), MemberID: c.gen.MemberID, Topics: req,
	})
	failed := map[topicPartition]error{}
	if err != nil {
		for tp := range offsets {
			failed[tp] = err
		}
	} else {
		for t, ps := range resp.Topics {
			for _, p := range ps {
				if p.Error != nil {
					failed[topicPartition{t, p.Partition}] = p.Error
				}
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for tp, oc := range offsets {
		if ferr, bad := failed[tp]; !bad {
			c.mu.sent[tp] = max(c.mu.sent[tp], oc.Offset)
		} else if generationOver(ferr) {
			c.mu.over = true
		}
	}
	return failed
}
