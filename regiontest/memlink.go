package regiontest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
)

// MemLink is the network between regions whose stores live in one process
// (memstores): what a Proxy is to a PostgreSQL region. Every call across it
// waits a one-way delay each way, and while it is blackholed the call is
// held, as bytes are in a network split, until the link heals or the
// caller's context ends. It is safe for concurrent use.
type MemLink struct {
	oneWay atomic.Int64
	mu     struct {
		sync.Mutex
		healed chan struct{} // non-nil while blackholed; closed when the link heals
	}
}

// NewMemLink returns a healthy link with the given one-way delay.
func NewMemLink(oneWay time.Duration) *MemLink {
	l := &MemLink{}
	l.SetLatency(oneWay)
	return l
}

// SetLatency sets the one-way delay; negative is taken as zero.
func (n *MemLink) SetLatency(oneWay time.Duration) { n.oneWay.Store(int64(max(oneWay, 0))) }

// Blackhole holds every call, new and in flight, until Heal.
func (n *MemLink) Blackhole() { n.setDark(true) }

// Heal lets the held calls go on, like retransmitted TCP segments.
func (n *MemLink) Heal() { n.setDark(false) }

func (n *MemLink) setDark(dark bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case dark && n.mu.healed == nil:
		n.mu.healed = make(chan struct{})
	case !dark && n.mu.healed != nil:
		close(n.mu.healed)
		n.mu.healed = nil
	}
}

// cross carries one message over the link: it waits the one-way delay and
// then for as long as the link is blackholed, or until ctx ends.
func (n *MemLink) cross(ctx context.Context) error {
	if d := time.Duration(n.oneWay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		n.mu.Lock()
		healed := n.mu.healed
		n.mu.Unlock()
		if healed == nil {
			return nil
		}
		select {
		case <-healed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// roundTrip runs f on the far side of the network. If the answer cannot
// come back, f has run but the caller cannot know what it did: the error
// then wraps xregion.ErrOutcomeUnknown, as pgstore's does when a connection
// dies after COMMIT was sent.
func roundTrip[T any](ctx context.Context, n *MemLink, to xregion.Region, f func() (T, error)) (T, error) {
	var zero T
	if err := n.cross(ctx); err != nil {
		return zero, fmt.Errorf("reach %s: %w", to, err)
	}
	v, err := f()
	if cerr := n.cross(ctx); cerr != nil {
		return zero, fmt.Errorf("%w: no answer from %s: %w", xregion.ErrOutcomeUnknown, to, cerr)
	}
	return v, err
}

// Call runs f in region to, across the link, as a client's request to
// that region's service: it fails with ctx's error if the request cannot
// get there, and wraps xregion.ErrOutcomeUnknown if f ran but its answer
// cannot come back.
func (n *MemLink) Call(ctx context.Context, to xregion.Region, f func(ctx context.Context) error) error {
	_, err := roundTrip(ctx, n, to, func() (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// memStore is a region's Store as another region reaches it: across the network.
type memStore struct {
	net   *MemLink
	store xregion.Store
}

// Store returns store as reached across the link. A store that can stage writes
// (xregion.Stager, which the synchronous replicator finds by type assertion)
// keeps that capability across the link.
func (n *MemLink) Store(store xregion.Store) xregion.Store {
	l := &memStore{net: n, store: store}
	if st, ok := store.(xregion.Stager); ok {
		return &memStager{memStore: l, stager: st}
	}
	return l
}

// Region needs no round trip: the caller knows which region it dials.
func (l *memStore) Region() xregion.Region { return l.store.Region() }

func (l *memStore) DefineTable(ctx context.Context, name string, r xregion.Resolver) error {
	_, err := roundTrip(ctx, l.net, l.Region(), func() (struct{}, error) {
		return struct{}{}, l.store.DefineTable(ctx, name, r)
	})
	return err
}

func (l *memStore) Get(ctx context.Context, table, key string) (xregion.Record, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Record, error) { return l.store.Get(ctx, table, key) })
}

func (l *memStore) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Result, error) { return l.store.Apply(ctx, b) })
}

func (l *memStore) Changes(ctx context.Context, q xregion.ChangeQuery) ([]xregion.Change, error) {
	return roundTrip(ctx, l.net, l.Region(), func() ([]xregion.Change, error) { return l.store.Changes(ctx, q) })
}

func (l *memStore) Watermark(ctx context.Context, peer xregion.Region) (xregion.Position, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Position, error) { return l.store.Watermark(ctx, peer) })
}

func (l *memStore) Backlog(ctx context.Context, after xregion.Position, origin xregion.Region) (xregion.Backlog, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Backlog, error) { return l.store.Backlog(ctx, after, origin) })
}

func (l *memStore) LostUpdates(ctx context.Context, after int64, limit int) ([]xregion.LostUpdate, error) {
	return roundTrip(ctx, l.net, l.Region(), func() ([]xregion.LostUpdate, error) { return l.store.LostUpdates(ctx, after, limit) })
}

// memStager is a memStore of a store that implements xregion.Stager.
type memStager struct {
	*memStore
	stager xregion.Stager
}

func (l *memStager) Stage(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	_, err := roundTrip(ctx, l.net, l.Region(), func() (struct{}, error) {
		return struct{}{}, l.stager.Stage(ctx, from, writes)
	})
	return err
}

func (l *memStager) Withdraw(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	_, err := roundTrip(ctx, l.net, l.Region(), func() (struct{}, error) {
		return struct{}{}, l.stager.Withdraw(ctx, from, writes)
	})
	return err
}

func (l *memStager) Holding(ctx context.Context, from xregion.Region, writes []xregion.Write) ([]bool, error) {
	return roundTrip(ctx, l.net, l.Region(), func() ([]bool, error) { return l.stager.Holding(ctx, from, writes) })
}

func (l *memStager) ApplyStaged(ctx context.Context) (xregion.Result, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Result, error) { return l.stager.ApplyStaged(ctx) })
}

func (l *memStager) Staged(ctx context.Context) (int64, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (int64, error) { return l.stager.Staged(ctx) })
}

var (
	_ xregion.Store  = (*memStore)(nil)
	_ xregion.Stager = (*memStager)(nil)
)
