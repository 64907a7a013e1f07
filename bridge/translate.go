package bridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/segmentio/kafka-go"
)

// Translate maps a consumer's committed offset in a source partition to the
// offset in the target partition of the same number where that consumer
// resumes without loss or duplicate: right after the copy of the last
// message it had read (offset-1), found by the exact provenance each copy
// carries, not by sampled offset pairs as MirrorMaker 2 does. Messages the
// bridge never published (echoes, dead letters) need no copy. If the bridge
// had not yet published everything before offset, the result is right after
// the last copy it did publish: what the target never received cannot be
// read there.
//
// Translate reads only the target cluster, so it works while the source
// region is down, provided the bridge knows the source's name: from the
// WithNames option, or from a Run of this Bridge; otherwise it asks the source.
// It returns ErrNoTranslation under the KeyHash mapping.
//
// HAZARD: in an active-active pair, the target partition also holds
// messages produced in the target region. Those that sit after the copy of
// offset-1 are read after failing over; those before it are not, even if
// the consumer had not yet seen them through the reverse bridge.
func (b *Bridge) Translate(ctx context.Context, topic string, partition int, offset int64) (int64, error) {
	if b.cfg.mapping != SamePartition {
		return 0, ErrNoTranslation
	}
	from, _, err := b.names(ctx)
	if err != nil {
		return 0, err
	}
	dst, done := b.client(1, []string{topic})
	defer done()
	return b.translate(ctx, dst, from, topic, partition, offset)
}

func (b *Bridge) translate(ctx context.Context, dst *kafka.Client, from, topic string, partition int, offset int64) (int64, error) {
	r := &run{b: b, cfg: &b.cfg}
	first, end, err := r.bounds(ctx, dst, topic, partition, kafka.ReadUncommitted)
	if err != nil {
		return 0, fmt.Errorf("translate %s/%d offset %d: %w", topic, partition, offset, err)
	}
	prefix := sourcePrefix(from, topic, partition)
	// The answer is the smallest target offset m at which the first copy at
	// or after m was read at offset or later (or there is none): copies sit
	// in source order, so that test is false, then true.
	lo, hi := first, end
	for lo < hi {
		mid := lo + (hi-lo)/2
		src, at, err := b.firstCopy(ctx, dst, topic, partition, mid, end, prefix)
		if err != nil {
			return 0, fmt.Errorf("translate %s/%d offset %d: %w", topic, partition, offset, err)
		}
		if src >= offset {
			hi = mid
		} else {
			lo = min(at+1, hi) // every m up to the copy found is too early
		}
	}
	return lo, nil
}

// firstCopy returns the first message read from prefix's source partition
// at or after target offset m: its source offset and where it sits, or
// math.MaxInt64 and end if there is none before end.
func (b *Bridge) firstCopy(ctx context.Context, dst *kafka.Client, topic string, partition int, m, end int64, prefix []byte) (src, at int64, err error) {
	for off := m; off < end; {
		rctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout)
		resp, err := dst.Fetch(rctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: off,
			MinBytes: 1, MaxBytes: 256 << 10, MaxWait: b.cfg.fetchMaxWait})
		cancel()
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return 0, 0, err
		}
		progress := false
		found := false
		for {
			rec, err := resp.Records.ReadRecord()
			if err != nil {
				break
			}
			closeRecord(rec)
			if found || rec.Offset < off || rec.Offset >= end {
				continue
			}
			off, progress = rec.Offset+1, true
			for _, h := range rec.Headers {
				if h.Key == HeaderSource {
					if s, ok := sourceOffset(h.Value, prefix); ok {
						src, at, found = s, rec.Offset, true
					}
					break
				}
			}
		}
		if found {
			return src, at, nil
		}
		if !progress {
			if resp.HighWatermark <= off {
				break
			}
			off++
		}
	}
	return math.MaxInt64, end, nil
}

// FailoverGroup moves a consumer group from the source to the target: it
// reads the group's committed offsets for topic in the source, translates
// each (see Translate) and commits the results for the same group in the
// target, so consumers started there with the group's id resume without
// loss or duplicate. It returns the committed target offsets by partition.
// The group must have no active members in the target. The source must
// answer; while it does not, translate offsets known by other means with
// Translate.
func (b *Bridge) FailoverGroup(ctx context.Context, group, topic string) (map[int]int64, error) {
	if b.cfg.mapping != SamePartition {
		return nil, ErrNoTranslation
	}
	from, _, err := b.names(ctx)
	if err != nil {
		return nil, err
	}
	src, doneSrc := b.client(0, []string{topic})
	defer doneSrc()
	dst, doneDst := b.client(1, []string{topic})
	defer doneDst()

	rctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout)
	md, err := src.Metadata(rctx, &kafka.MetadataRequest{Topics: []string{topic}})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("fail over group %s: %w", group, err)
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return nil, fmt.Errorf("fail over group %s: topic %s: %w", group, topic, t.Error)
			}
			for _, p := range t.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	sort.Ints(parts)
	rctx, cancel = context.WithTimeout(ctx, b.cfg.requestTimeout)
	committed, err := src.OffsetFetch(rctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	cancel()
	if err == nil {
		err = committed.Error
	}
	if err != nil {
		return nil, fmt.Errorf("fail over group %s: read its offsets in the source: %w", group, err)
	}
	out := map[int]int64{}
	var commits []kafka.OffsetCommit
	for _, p := range committed.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("fail over group %s: offset of %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		if p.CommittedOffset < 0 {
			continue // nothing committed: the group's start policy applies in the target too
		}
		t, err := b.translate(ctx, dst, from, topic, p.Partition, p.CommittedOffset)
		if err != nil {
			return nil, fmt.Errorf("fail over group %s: %w", group, err)
		}
		out[p.Partition] = t
		commits = append(commits, kafka.OffsetCommit{Partition: p.Partition, Offset: t,
			Metadata: fmt.Sprintf("xregion failover from %s offset %d", from, p.CommittedOffset)})
	}
	if len(commits) == 0 {
		return out, nil
	}
	rctx, cancel = context.WithTimeout(ctx, b.cfg.requestTimeout)
	resp, err := dst.OffsetCommit(rctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: commits}})
	cancel()
	if err == nil {
		for _, p := range resp.Topics[topic] {
			if p.Error != nil {
				err = p.Error
				break
			}
		}
	}
	if err != nil {
		if errors.Is(err, kafka.UnknownMemberId) || errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.RebalanceInProgress) {
			err = fmt.Errorf("the group has active members in the target; stop them first: %w", err)
		}
		return nil, fmt.Errorf("fail over group %s: commit in the target: %w", group, err)
	}
	return out, nil
}

// names returns the clusters' names, asking them if neither the options nor
// a Run told them.
func (b *Bridge) names(ctx context.Context) (from, to string, err error) {
	b.mu.Lock()
	from, to = b.mu.fromName, b.mu.toName
	b.mu.Unlock()
	if from != "" && to != "" {
		return from, to, nil
	}
	ask := func(side int, what string) (string, error) {
		c, done := b.client(side, b.topics)
		defer done()
		rctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout)
		defer cancel()
		md, err := c.Metadata(rctx, &kafka.MetadataRequest{Topics: b.topics})
		if err != nil {
			return "", fmt.Errorf("bridge: ask the %s for its cluster id (or set Names): %w", what, err)
		}
		if err := checkClusterName(md.ClusterID); err != nil {
			return "", invalid(what+" cluster id", "%v; name the clusters with the WithNames option", err)
		}
		return md.ClusterID, nil
	}
	if from, err = ask(0, "source"); err != nil {
		return "", "", err
	}
	if to, err = ask(1, "target"); err != nil {
		return "", "", err
	}
	return from, to, nil
}

// client returns a client of the source (side 0) or the target (side 1) on
// a transport of its own, and the function that releases it.
func (b *Bridge) client(side int, topics []string) (*kafka.Client, func()) {
	brokers := b.from
	if side == 1 {
		brokers = b.to
	}
	t := b.transport(side, topics)
	return &kafka.Client{Addr: kafka.TCP(brokers...), Transport: t}, t.CloseIdleConnections
}
