package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/xregion/xregion"
)

// network is the simulated network between two in-memory regions: every
// call crosses it with a one-way delay each way, and while it is dark the
// bytes are held, as in a network split, until it heals or the caller gives up.
// It stands in for regiontest.Proxy when the regions are memstores in one
// process. It is safe for concurrent use.
type network struct {
	oneWay time.Duration
	mu     struct {
		sync.Mutex
		healed chan struct{} // non-nil while dark; closed when the link heals
	}
}

// setDark cuts the link (true) or heals it (false). Calls held while it was
// dark go on once it heals, like retransmitted TCP segments.
func (n *network) setDark(dark bool) {
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
// then for as long as the link is dark, or until ctx ends.
func (n *network) cross(ctx context.Context) error {
	if n.oneWay > 0 {
		t := time.NewTimer(n.oneWay)
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
func roundTrip[T any](ctx context.Context, n *network, to xregion.Region, f func() (T, error)) (T, error) {
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

// link is a region's Store as another region reaches it: across the network.
type link struct {
	net   *network
	store xregion.Store
}

// linkTo returns store as seen across n. A store that can stage writes
// (xregion.Stager, which the synchronous replicator finds by type assertion)
// keeps that capability across the link.
func (n *network) linkTo(store xregion.Store) xregion.Store {
	l := &link{net: n, store: store}
	if st, ok := store.(xregion.Stager); ok {
		return &stagingLink{link: l, stager: st}
	}
	return l
}

// Region needs no round trip: the caller knows which region it dials.
func (l *link) Region() xregion.Region { return l.store.Region() }

func (l *link) DefineTable(ctx context.Context, name string, r xregion.Resolver) error {
	_, err := roundTrip(ctx, l.net, l.Region(), func() (struct{}, error) {
		return struct{}{}, l.store.DefineTable(ctx, name, r)
	})
	return err
}

func (l *link) Get(ctx context.Context, table, key string) (xregion.Record, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Record, error) { return l.store.Get(ctx, table, key) })
}

func (l *link) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Result, error) { return l.store.Apply(ctx, b) })
}

func (l *link) Changes(ctx context.Context, q xregion.ChangeQuery) ([]xregion.Change, error) {
	return roundTrip(ctx, l.net, l.Region(), func() ([]xregion.Change, error) { return l.store.Changes(ctx, q) })
}

func (l *link) Watermark(ctx context.Context, peer xregion.Region) (xregion.Position, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Position, error) { return l.store.Watermark(ctx, peer) })
}

func (l *link) Backlog(ctx context.Context, after xregion.Position, origin xregion.Region) (xregion.Backlog, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Backlog, error) { return l.store.Backlog(ctx, after, origin) })
}

func (l *link) LostUpdates(ctx context.Context, after int64, limit int) ([]xregion.LostUpdate, error) {
	return roundTrip(ctx, l.net, l.Region(), func() ([]xregion.LostUpdate, error) { return l.store.LostUpdates(ctx, after, limit) })
}

// stagingLink is a link to a store that implements xregion.Stager.
type stagingLink struct {
	*link
	stager xregion.Stager
}

func (l *stagingLink) Stage(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	_, err := roundTrip(ctx, l.net, l.Region(), func() (struct{}, error) {
		return struct{}{}, l.stager.Stage(ctx, from, writes)
	})
	return err
}

func (l *stagingLink) Withdraw(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	_, err := roundTrip(ctx, l.net, l.Region(), func() (struct{}, error) {
		return struct{}{}, l.stager.Withdraw(ctx, from, writes)
	})
	return err
}

func (l *stagingLink) Holding(ctx context.Context, from xregion.Region, writes []xregion.Write) ([]bool, error) {
	return roundTrip(ctx, l.net, l.Region(), func() ([]bool, error) { return l.stager.Holding(ctx, from, writes) })
}

func (l *stagingLink) ApplyStaged(ctx context.Context) (xregion.Result, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (xregion.Result, error) { return l.stager.ApplyStaged(ctx) })
}

func (l *stagingLink) Staged(ctx context.Context) (int64, error) {
	return roundTrip(ctx, l.net, l.Region(), func() (int64, error) { return l.stager.Staged(ctx) })
}

var (
	_ xregion.Store  = (*link)(nil)
	_ xregion.Stager = (*stagingLink)(nil)
)
