package drill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
)

// writer is what takes a tier's writes in one region: a replicator.
type writer interface {
	Write(ctx context.Context, ws ...xregion.Write) error
	Lag(ctx context.Context) ([]xregion.PeerLag, error)
	Close() error
}

// tierWriters are the replicators a region serves the two tiers with.
type tierWriters struct {
	region   xregion.Region
	pay, inv writer
}

func (w *tierWriters) close() {
	w.pay.Close()
	w.inv.Close()
}

// ack is one acknowledged write: the Jepsen way, every write the drill was
// told succeeded is counted, and each must be found where it promised.
type ack struct {
	key    string
	region xregion.Region
	at     time.Duration // since the drill started, when the acknowledgement came
}

// load is the drill's traffic: payment writers on Tier 1, each waiting for
// its payment to be acknowledged or refused before the next, and a steady
// stream of stock updates on Tier 2. Every write goes to the region route
// returns, and counts as acknowledged only if the call returned nil.
type load struct {
	start time.Time
	route func() (*tierWriters, error)
	call  func(ctx context.Context, to xregion.Region, f func(ctx context.Context) error) error
	s     Settings

	acked  [2]atomic.Int64 // per tier, for the write rate
	failed [2]atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     struct {
		sync.Mutex
		acks [2][]ack
	}
}

// errNotServing is what a write gets from a region that is not serving
// yet: the standby before its promotion.
var errNotServing = errors.New("region is not serving writes yet")

func startLoad(ctx context.Context, start time.Time, s Settings, route func() (*tierWriters, error),
	call func(ctx context.Context, to xregion.Region, f func(ctx context.Context) error) error) *load {
	l := &load{start: start, route: route, call: call, s: s, stop: make(chan struct{})}
	for id := range s.Tier1Writers {
		l.wg.Go(func() { l.run(ctx, 0, func(i int) string { return fmt.Sprintf("pay-%d-%07d", id, i) }, s.Tier1Every) })
	}
	l.wg.Go(func() { l.run(ctx, 1, func(i int) string { return "sku-" + strconv.Itoa(i) }, s.Tier2Every) })
	return l
}

// run writes tier's keys one after the other, at most one per every.
func (l *load) run(ctx context.Context, tier int, key func(i int) string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		select {
		case <-t.C:
		case <-l.stop:
			return
		}
		k := key(i)
		region, err := l.write(ctx, tier, k)
		if err == nil {
			l.acked[tier].Add(1)
			l.mu.Lock()
			l.mu.acks[tier] = append(l.mu.acks[tier], ack{key: k, region: region, at: time.Since(l.start)})
			l.mu.Unlock()
			continue
		}
		l.failed[tier].Add(1)
		if errors.Is(err, errNotServing) {
			// No region serves yet: do not spin.
			select {
			case <-time.After(l.s.WriteTimeout / 10):
			case <-l.stop:
				return
			}
		}
	}
}

func (l *load) write(ctx context.Context, tier int, key string) (xregion.Region, error) {
	w, err := l.route()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, l.s.WriteTimeout)
	defer cancel()
	rep, table := w.pay, payments
	if tier == 1 {
		rep, table = w.inv, inventory
	}
	wr := xregion.Write{Table: table, Record: xregion.Record{Key: key, Value: []byte(`{"drill":true}`)}}
	return w.region, l.call(ctx, w.region, func(ctx context.Context) error { return rep.Write(ctx, wr) })
}

// halt stops the writers and waits for them; safe to call twice.
func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// acks returns a copy of tier's acknowledged writes so far.
func (l *load) acks(tier int) []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.mu.acks[tier]...)
}
