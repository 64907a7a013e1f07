package bridge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// State is what a partition's bridging is doing.
type State int

const (
	// Bridging: the partition is copied as messages arrive.
	Bridging State = iota
	// Retrying: a request to either cluster failed; the partition retries
	// with backoff.
	Retrying
	// Paused: the partition has been failing for longer than WithPauseAfter. It
	// still retries, every maximum backoff, and returns to Bridging when a
	// request succeeds. The other partitions carry on.
	Paused
	// Stopped: the target refused a message for good and there is no
	// dead-letter topic (WithDeadLetter). The partition stays at that
	// message until the bridge restarts; nothing after it is bridged,
	// nothing is skipped.
	Stopped
)

func (s State) String() string {
	switch s {
	case Retrying:
		return "retrying"
	case Paused:
		return "paused"
	case Stopped:
		return "stopped"
	}
	return "bridging"
}

// Lag is what a bridge process would lose if the source region died now,
// over the partitions it holds. ReplicationLag gives its gist as an
// xregion.PeerLag, so the live RPO of messaging sits next to that of the
// databases.
type Lag struct {
	From, To string // the clusters' names
	// RPO is the live recovery point: the age of the oldest source message
	// not yet in the target, from its timestamp; zero when the target has
	// them all. Measured every WithLagInterval, idle partitions included, so a
	// stalled bridge shows.
	RPO time.Duration
	// Pending counts the source messages not yet bridged.
	Pending int64
	// LastContact is when the target last answered; zero if it never has.
	// The target is asked every WithLagInterval even when nothing flows.
	LastContact time.Time
	// State is LinkShipping (bridging), LinkFailing (some partition is not
	// Bridging, or the process holds none because Err stands: a cluster
	// does not answer, the group cannot be joined), LinkStandby (this
	// process holds no partition and has no error: others in the group
	// hold them, or it is joining) or LinkStopped (Run is not running).
	// While failing before it holds a partition, the bridge cannot measure
	// RPO and Pending, which stay zero: alert on State too, not on RPO
	// alone.
	State xregion.LinkState
	// Err is the last error outside any partition (joining the group,
	// reading metadata), nil once past. Partitions carry their own.
	Err        error
	Partitions []PartitionLag
}

// PartitionLag is one source partition's state.
type PartitionLag struct {
	Topic     string
	Partition int
	State     State
	// Next is the next source offset to bridge: every message before it is
	// in the target (or deliberately not: an echo, a dead letter).
	Next int64
	// End is the source partition's high watermark when last measured.
	End int64
	// Pending is End - Next.
	Pending int64
	// Oldest is the timestamp of the message at Next when Pending > 0.
	Oldest time.Time
	// Err is the last error, nil once a request succeeds again; a
	// *RefusedError when Stopped.
	Err error
	// FailingSince is when the current run of failures began; zero when
	// not failing.
	FailingSince time.Time
}

// ReplicationLag reports Lag as one xregion.PeerLag for the target
// cluster, so that the live RPO of messaging is exported and alerted on
// beside the databases':
//
//	reg.MustRegister(replicate.NewLagCollector("tier1", xregion.LagFunc(b.ReplicationLag)))
//
// Err is the bridge's error, or else the first failing partition's.
func (b *Bridge) ReplicationLag(context.Context) ([]xregion.PeerLag, error) {
	l := b.Lag()
	err := l.Err
	for _, p := range l.Partitions {
		if err == nil {
			err = p.Err
		}
	}
	return []xregion.PeerLag{{Peer: xregion.Region(l.To), RPO: l.RPO, Pending: l.Pending,
		LastContact: l.LastContact, State: l.State, Err: err}}, nil
}

// Lag reports the bridge's lag now, from the last measurement.
func (b *Bridge) Lag() Lag {
	b.mu.Lock()
	l := Lag{From: b.mu.fromName, To: b.mu.toName, LastContact: b.mu.lastContact, Err: b.mu.lastErr}
	running := b.mu.running
	b.mu.Unlock()
	now := b.cfg.clock.Now()
	failing := false
	var oldest time.Time
	for _, p := range b.heldPartitions() {
		pl := p.snapshot()
		l.Partitions = append(l.Partitions, pl)
		l.Pending += pl.Pending
		if pl.Pending > 0 && !pl.Oldest.IsZero() && (oldest.IsZero() || pl.Oldest.Before(oldest)) {
			oldest = pl.Oldest
		}
		failing = failing || pl.State != Bridging
	}
	if !oldest.IsZero() {
		l.RPO = max(now.Sub(oldest), 0)
	}
	switch {
	case !running:
		l.State = xregion.LinkStopped
	case failing || len(l.Partitions) == 0 && l.Err != nil:
		// Holding nothing because a cluster does not answer, or the group
		// cannot be joined, is not standing by.
		l.State = xregion.LinkFailing
	case len(l.Partitions) == 0:
		l.State = xregion.LinkStandby
	default:
		l.State = xregion.LinkShipping
	}
	return l
}

// side tells which cluster a failure came from: a partition fails on either
// independently, and is paused if either keeps failing.
type side int

const (
	sourceSide side = iota
	targetSide
)

// partition is the shared state of one source partition held by this
// process: written by its worker and the lag loop, read by Lag.
type partition struct {
	topic string
	p     int
	pm    partMetrics
	clock xregion.Timers
	bytes atomic.Int64 // key and value bytes published, for the byte rate

	mu struct {
		sync.Mutex
		next, end    int64
		oldestAt     int64 // the offset oldest belongs to; -1 unknown
		oldest       time.Time
		caughtUp     time.Time // when next last reached end
		failing      [2]time.Time
		lastErr      [2]error
		paused       bool
		stopped      error
		lastBytes    int64
		lastMeasured time.Time
	}
}

func newPartition(topic string, p int, pm partMetrics, clock xregion.Timers) *partition {
	pt := &partition{topic: topic, p: p, pm: pm, clock: clock}
	pt.mu.next, pt.mu.end, pt.mu.oldestAt = -1, -1, -1
	return pt
}

func (pt *partition) snapshot() PartitionLag {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pl := PartitionLag{Topic: pt.topic, Partition: pt.p, Next: pt.mu.next, End: pt.mu.end}
	if pt.mu.next >= 0 && pt.mu.end > pt.mu.next {
		pl.Pending = pt.mu.end - pt.mu.next
		switch {
		case pt.mu.oldestAt >= pt.mu.next && pt.mu.oldestAt < pt.mu.end:
			// The first message to bridge; any before it (echoes, copies
			// the target has) are not waiting.
			pl.Oldest = pt.mu.oldest
		case !pt.mu.caughtUp.IsZero():
			// Not read yet: it arrived after the partition was last caught
			// up, so it is no older than that. Erring high, as an RPO should.
			pl.Oldest = pt.mu.caughtUp
		}
	}
	for s := range pt.mu.failing {
		if t := pt.mu.failing[s]; !t.IsZero() && (pl.FailingSince.IsZero() || t.Before(pl.FailingSince)) {
			pl.FailingSince = t
		}
		if pt.mu.lastErr[s] != nil {
			pl.Err = pt.mu.lastErr[s]
		}
	}
	switch {
	case pt.mu.stopped != nil:
		pl.State, pl.Err = Stopped, pt.mu.stopped
	case pt.mu.paused:
		pl.State = Paused
	case !pl.FailingSince.IsZero():
		pl.State = Retrying
	}
	return pl
}

// setNext records that everything before next is done.
func (pt *partition) setNext(next int64) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.mu.next = next
	if pt.mu.end <= next {
		pt.mu.end = next
		pt.mu.caughtUp = pt.clock.Now()
	}
}

// oldestKnown reports whether the timestamp of the first message to bridge
// is known, not just bounded.
func (pt *partition) oldestKnown() bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.mu.oldestAt >= pt.mu.next && pt.mu.oldestAt < pt.mu.end
}

// setOldest records the timestamp of the message at offset, the first one
// not yet bridged.
func (pt *partition) setOldest(offset int64, ts time.Time) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.mu.oldestAt, pt.mu.oldest = offset, ts
}

func (pt *partition) setEnd(end int64) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.mu.end = max(end, pt.mu.next)
	if pt.mu.next >= 0 && pt.mu.end == pt.mu.next {
		pt.mu.caughtUp = pt.clock.Now()
	}
}

// fail records a failed request and reports whether the partition has now
// been failing for longer than pauseAfter (logging it the first time).
func (r *run) fail(pt *partition, s side, op string, err error) {
	pt.pm.failure(op)
	now := r.cfg.clock.Now()
	pt.mu.Lock()
	if pt.mu.failing[s].IsZero() {
		pt.mu.failing[s] = now
	}
	pt.mu.lastErr[s] = err
	pause := !pt.mu.paused && now.Sub(pt.mu.failing[s]) >= r.cfg.pauseAfter
	if pause {
		pt.mu.paused = true
	}
	since := pt.mu.failing[s]
	pt.mu.Unlock()
	if pause {
		pt.pm.set(pt.pm.paused, 1)
		r.cfg.logger.Error("bridge paused a partition that keeps failing; it retries and resumes by itself",
			"topic", pt.topic, "partition", pt.p, "op", op, "failing_since", since, "err", err)
	} else {
		r.cfg.logger.Debug("bridge retrying", "topic", pt.topic, "partition", pt.p, "op", op, "err", err)
	}
}

// ok records a successful request on side s.
func (r *run) ok(pt *partition, s side) {
	pt.mu.Lock()
	if pt.mu.failing[s].IsZero() {
		pt.mu.Unlock()
		return
	}
	pt.mu.failing[s], pt.mu.lastErr[s] = time.Time{}, nil
	resume := pt.mu.paused && pt.mu.failing[1-s].IsZero()
	if resume {
		pt.mu.paused = false
	}
	pt.mu.Unlock()
	if resume {
		pt.pm.set(pt.pm.paused, 0)
		r.cfg.logger.Info("bridge resumed a paused partition", "topic", pt.topic, "partition", pt.p)
	}
}

func (r *run) stop(pt *partition, err error) {
	pt.mu.Lock()
	pt.mu.stopped = err
	pt.mu.Unlock()
	pt.pm.set(pt.pm.paused, 1)
	r.cfg.logger.Error("bridge stopped a partition at a message the target refuses; configure DeadLetter to carry on past such messages",
		"topic", pt.topic, "partition", pt.p, "err", err)
}

// lagLoop measures every held partition's lag each WithLagInterval, idle ones
// included, and asks the target for an answer so LastContact stays honest
// on an idle link.
func (r *run) lagLoop(ctx context.Context) {
	for {
		r.measure(ctx)
		if wait.Sleep(ctx, r.cfg.clock, r.cfg.lagInterval) != nil {
			return
		}
	}
}

func (r *run) measure(ctx context.Context) {
	ps := r.b.heldPartitions()
	defer func() {
		l := r.b.Lag()
		r.cfg.metrics.setLink(r.from, r.to, len(ps), l.RPO.Seconds())
	}()
	if len(ps) == 0 {
		r.ping(ctx, nil)
		return
	}
	req := map[string][]kafka.OffsetRequest{}
	for _, p := range ps {
		req[p.topic] = append(req[p.topic], kafka.LastOffsetOf(p.p))
	}
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	resp, err := r.src.ListOffsets(rctx, &kafka.ListOffsetsRequest{Topics: req, IsolationLevel: kafka.ReadCommitted})
	cancel()
	sourceUp := err == nil
	if err == nil {
		for t, offs := range resp.Topics {
			for _, o := range offs {
				if o.Error != nil {
					continue
				}
				for _, p := range ps {
					if p.topic == t && p.p == o.Partition {
						p.setEnd(o.LastOffset)
					}
				}
			}
		}
	}
	now := r.cfg.clock.Now()
	for _, p := range ps {
		pl := p.snapshot()
		if sourceUp && pl.Pending > 0 && !p.oldestKnown() {
			r.learnOldest(ctx, p, pl.Next)
			pl = p.snapshot()
		}
		p.pm.set(p.pm.lag, float64(pl.Pending))
		age := 0.0
		if pl.Pending > 0 && !pl.Oldest.IsZero() {
			age = max(now.Sub(pl.Oldest).Seconds(), 0)
		}
		p.pm.set(p.pm.oldest, age)
		p.mu.Lock()
		b := p.bytes.Load()
		if !p.mu.lastMeasured.IsZero() {
			p.pm.set(p.pm.byteRate, float64(b-p.mu.lastBytes)/now.Sub(p.mu.lastMeasured).Seconds())
		}
		p.mu.lastBytes, p.mu.lastMeasured = b, now
		p.mu.Unlock()
	}
	r.ping(ctx, ps)
}

// learnOldest reads the timestamp of the message at offset next.
func (r *run) learnOldest(ctx context.Context, p *partition, next int64) {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	resp, err := r.src.Fetch(rctx, &kafka.FetchRequest{Topic: p.topic, Partition: p.p, Offset: next,
		MinBytes: 1, MaxBytes: 64 << 10, MaxWait: time.Millisecond, IsolationLevel: kafka.ReadCommitted})
	if err != nil || resp.Error != nil {
		return
	}
	for {
		rec, err := resp.Records.ReadRecord()
		if err != nil {
			return
		}
		closeRecord(rec)
		if rec.Offset >= next {
			p.mu.Lock()
			if p.mu.next == next {
				p.mu.oldestAt, p.mu.oldest = next, rec.Time
			}
			p.mu.Unlock()
			return
		}
	}
}

// ping asks the target for the end of the partitions the held ones map to
// (or for metadata when none is held) and records when it last answered.
func (r *run) ping(ctx context.Context, ps []*partition) {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	var err error
	if len(ps) == 0 {
		_, err = r.dst.Metadata(rctx, &kafka.MetadataRequest{Topics: r.b.topics})
	} else {
		req := map[string][]kafka.OffsetRequest{}
		for _, p := range ps {
			if n := r.targetCount(p.topic); n > 0 {
				req[p.topic] = append(req[p.topic], kafka.LastOffsetOf(p.p%n))
			}
		}
		_, err = r.dst.ListOffsets(rctx, &kafka.ListOffsetsRequest{Topics: req})
	}
	if err == nil {
		r.contacted()
	} else if !errors.Is(err, context.Canceled) {
		r.cfg.logger.Debug("bridge target did not answer", "err", err)
	}
}

func (r *run) contacted() {
	now := r.cfg.clock.Now()
	r.b.mu.Lock()
	r.b.mu.lastContact = now
	r.b.mu.Unlock()
}
