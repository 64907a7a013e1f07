package replicate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// ErrClosed is returned by a write made after its replicator closed, and
// wrapped (with xregion.ErrOutcomeUnknown) by one in flight when it did.
var ErrClosed = errors.New("replicate: replicator closed")

// ErrFenced is wrapped by *FencedError.
var ErrFenced = errors.New("replicate: write fenced")

// FencedError reports writes the local store did not apply because they
// carried an ownership epoch older than their partition's (a single-writer
// table: see package partition). Each is quarantined in the store's
// lost-update ledger, under the entry Lost lists, for failback to settle.
// Writing it again does not help: write it in the key's home region, with
// that region's current epoch. The call's other writes were applied.
type FencedError struct {
	Lost []xregion.LostUpdate
}

func (e *FencedError) Error() string {
	var b strings.Builder
	b.WriteString("replicate: write fenced: a stale ownership epoch, quarantined in the ledger:")
	for i, l := range e.Lost {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s %q epoch %d (entry %d)", l.Table, l.Lost.Key, l.Lost.Epoch, l.ID)
	}
	return b.String()
}

// Unwrap returns ErrFenced.
func (e *FencedError) Unwrap() error { return ErrFenced }

// fenced returns a *FencedError for the writes of ws that lost lists as
// fenced, nil if none.
func fenced(ws []xregion.Write, lost []xregion.LostUpdate) error {
	var out []xregion.LostUpdate
	for _, l := range lost {
		if l.Reason != xregion.LostFenced {
			continue
		}
		for _, w := range ws {
			if w.Table == l.Table && w.Record.Key == l.Lost.Key && w.Record.Version == l.Lost.Version {
				out = append(out, l)
				break
			}
		}
	}
	if out == nil {
		return nil
	}
	return &FencedError{Lost: out}
}

// committer sends the writes of waiting calls to one target, the local
// store or a peer, in batches (group commit): while all its in-flight slots
// are busy, calls queue, and the next free slot takes all of them in one
// round trip, so concurrent writers share transactions instead of paying
// one each. Every call it accepts gets an answer, also when it stops.
type committer struct {
	cfg     config
	s       *Sync     // peers only: the replicator that degrades them
	peer    *syncPeer // nil for the local store
	queue   chan *call
	send    func(context.Context, []xregion.Write) (xregion.Result, error)
	wg      *sync.WaitGroup // the replicator's: Close waits for the batches in flight
	stopped <-chan struct{} // closed when the committer stops taking calls
	mu      struct {
		sync.RWMutex // read-held by enqueue, so no call lands in the queue after it is drained
		closed       bool
	}
}

func startCommitter(ctx context.Context, wg *sync.WaitGroup, cfg config, s *Sync, peer *syncPeer, send func(context.Context, []xregion.Write) (xregion.Result, error)) *committer {
	c := &committer{cfg: cfg, s: s, peer: peer, queue: make(chan *call, 4096), send: send, wg: wg, stopped: ctx.Done()}
	wg.Go(func() { c.run(ctx) })
	return c
}

// localCommitter group-commits writes in the local store.
func localCommitter(ctx context.Context, wg *sync.WaitGroup, cfg config, local xregion.Store) *committer {
	return startCommitter(ctx, wg, cfg, nil, nil, func(ctx context.Context, ws []xregion.Write) (xregion.Result, error) {
		return local.Apply(ctx, xregion.Batch{Writes: ws})
	})
}

// enqueue hands cl to the committer, which will answer it. It fails with
// ErrClosed once the committer has stopped, and with the cause of cl's
// context if that ends while the queue is full.
func (c *committer) enqueue(cl *call) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mu.closed {
		return ErrClosed
	}
	select {
	case c.queue <- cl:
		return nil
	case <-c.stopped:
		return ErrClosed
	case <-cl.ctx.Done():
		return context.Cause(cl.ctx)
	}
}

// close stops taking calls and answers those still queued: they were never
// sent, so they certainly did not happen.
func (c *committer) close() {
	c.mu.Lock()
	c.mu.closed = true
	c.mu.Unlock()
	for {
		select {
		case cl := <-c.queue:
			c.answer([]*call{cl}, ErrClosed)
		default:
			return
		}
	}
}

// stoppedErr is the answer for calls in flight when the committer stopped.
func stoppedErr(err error) error {
	if err == nil {
		return fmt.Errorf("%w: %w", ErrClosed, xregion.ErrOutcomeUnknown)
	}
	return fmt.Errorf("%w: %w: %w", ErrClosed, xregion.ErrOutcomeUnknown, err)
}

func (c *committer) target() int {
	if c.peer == nil {
		return -1
	}
	return c.peer.index
}

func (c *committer) run(ctx context.Context) {
	defer c.close()
	n := c.cfg.maxInFlight
	if c.peer == nil {
		n = c.cfg.localInFlight
	}
	slots := make(chan struct{}, n)
	for {
		var first *call
		select {
		case <-ctx.Done():
			return
		case first = <-c.queue:
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		batch, n, size := []*call{first}, len(first.writes), batchBytes(first.writes)
	fill:
		for n < c.cfg.batchSize && size < c.cfg.maxBatchBytes {
			select {
			case cl := <-c.queue:
				batch, n, size = append(batch, cl), n+len(cl.writes), size+batchBytes(cl.writes)
			default:
				break fill
			}
		}
		c.wg.Go(func() {
			defer func() { <-slots }()
			if c.peer == nil {
				c.commitLocal(ctx, batch)
			} else {
				c.stage(ctx, batch)
			}
		})
	}
}

// answer tells each call in batch what this target says.
func (c *committer) answer(batch []*call, err error) {
	for _, cl := range batch {
		cl.done <- result{peer: c.target(), err: err}
	}
}

// applied tells each call of a batch the local store applied whether any of
// its writes were fenced.
func (c *committer) applied(batch []*call, res xregion.Result) {
	for _, cl := range batch {
		cl.done <- result{peer: c.target(), err: fenced(cl.writes, res.Lost)}
	}
}

// commitLocal applies the batch in the local store, for as long as one of
// its callers waits. If the batch fails, each call is applied alone, so a
// write that cannot commit fails only its own caller.
func (c *committer) commitLocal(ctx context.Context, batch []*call) {
	ctx, cancel := whileWaited(ctx, batch)
	defer cancel()
	res, err := c.send(ctx, writesOfCalls(batch))
	switch {
	case err == nil:
		c.applied(batch, res)
		return
	case c.closing():
		c.answer(batch, stoppedErr(err))
		return
	case len(batch) == 1 || errors.Is(err, xregion.ErrOutcomeUnknown):
		c.answer(batch, err)
		return
	}
	for _, cl := range batch {
		if res, err := c.send(ctx, cl.writes); err != nil {
			c.answer([]*call{cl}, err)
		} else {
			c.applied([]*call{cl}, res)
		}
	}
}

// stage sends the batch to the peer until it answers or nobody waits any
// more: under Strict until every call's context has ended, under Degrade
// until WithDegradeAfter has passed, when the peer is degraded.
func (c *committer) stage(ctx context.Context, batch []*call) {
	p, cfg := c.peer, c.cfg
	clock := cfg.clock
	first := clock.Now()
	var lastErr error
	bo := wait.Backoff{Min: cfg.pollInterval, Max: min(cfg.maxBackoff, cfg.heartbeat), Clock: clock}
	for {
		batch = c.dropGivenUp(batch, lastErr)
		if len(batch) == 0 {
			return
		}
		if !p.sends() {
			c.skip(batch)
			return
		}
		timeout := cfg.heartbeat
		if cfg.policy == Degrade {
			timeout = min(timeout, cfg.degradeAfter-clock.Now().Sub(first))
		}
		attemptCtx, cancel := context.WithTimeout(ctx, max(timeout, time.Millisecond))
		_, err := c.send(attemptCtx, writesOfCalls(batch))
		cancel()
		if err == nil {
			p.answered()
			c.answer(batch, nil)
			return
		}
		if c.closing() {
			c.answer(batch, stoppedErr(err))
			return
		}
		lastErr = fmt.Errorf("stage on %s: %w", p.store.Region(), err)
		p.failed(lastErr)
		if cfg.policy == Degrade && clock.Now().Sub(first) >= cfg.degradeAfter {
			c.s.degrade(p, lastErr, batch)
			c.skip(batch)
			return
		}
		if errors.Is(err, xregion.ErrTooLarge) && len(batch) > 1 {
			h := len(batch) / 2
			c.stage(ctx, batch[:h:h])
			c.stage(ctx, batch[h:])
			return
		}
		if errors.Is(err, xregion.ErrInvalid) || errors.Is(err, xregion.ErrUnknownTable) || errors.Is(err, xregion.ErrTooLarge) {
			c.answer(batch, lastErr) // no retry will change the answer
			return
		}
		if bo.Wait(ctx) != nil {
			c.answer(batch, stoppedErr(lastErr))
			return
		}
	}
}

// closing reports whether the committer is stopping.
func (c *committer) closing() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

// dropGivenUp answers and removes the calls whose callers stopped waiting.
func (c *committer) dropGivenUp(batch []*call, lastErr error) []*call {
	live := batch[:0]
	for _, cl := range batch {
		if cl.ctx.Err() == nil {
			live = append(live, cl)
			continue
		}
		c.peer.unstaged(cl.start)
		err := fmt.Errorf("%w: gave up on %s: %w", xregion.ErrOutcomeUnknown, c.peer.store.Region(), context.Cause(cl.ctx))
		if lastErr != nil {
			err = fmt.Errorf("%w: gave up on %s after: %w", xregion.ErrOutcomeUnknown, c.peer.store.Region(), lastErr)
		}
		c.answer([]*call{cl}, err)
	}
	return live
}

// skip answers the calls of a degraded peer: they go on without it.
func (c *committer) skip(batch []*call) {
	for _, cl := range batch {
		c.peer.unstaged(cl.start)
	}
	c.answer(batch, fmt.Errorf("%s %w", c.peer.store.Region(), errDegraded))
}

func writesOfCalls(batch []*call) []xregion.Write {
	if len(batch) == 1 {
		return batch[0].writes
	}
	var ws []xregion.Write
	for _, cl := range batch {
		ws = append(ws, cl.writes...)
	}
	return ws
}

// whileWaited returns a context that ends with parent or once every call of
// batch has stopped waiting (its context ended).
func whileWaited(parent context.Context, batch []*call) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	var waiting atomic.Int64
	waiting.Store(int64(len(batch)))
	stops := make([]func() bool, 0, len(batch))
	for _, cl := range batch {
		stops = append(stops, context.AfterFunc(cl.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
