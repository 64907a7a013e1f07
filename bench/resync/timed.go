package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// timed is a pgstore.Store that adds up, per method resync calls, the calls,
// the time spent in them, how much they asked for or returned and, for a
// store reached through a proxy, the bytes they carried: where a resync
// spends its time and its bytes. Digester's methods are promoted through
// the embedded store, so resync finds them. The bytes are exact as long as
// the store's calls do not overlap, which holds for resync: it makes one
// call to each region at a time.
type timed struct {
	*pgstore.Store
	proxy *regiontest.Proxy // nil for a store reached directly
	mu    struct {
		sync.Mutex
		calls map[string]*calls
	}
}

// calls sums up one method's calls.
type calls struct {
	n     int
	items int // ranges asked for (Digests), rows returned (KeyDigests), keys asked for (Records), writes (Apply), changes returned (Changes)
	total time.Duration
	bytes int64 // both ways through the proxy
}

func newTimed(st *pgstore.Store, proxy *regiontest.Proxy) *timed {
	t := &timed{Store: st, proxy: proxy}
	t.reset()
	return t
}

func (t *timed) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.calls = map[string]*calls{}
}

// call is one call under way.
type call struct {
	start time.Time
	bytes int64
}

func (t *timed) begin() call {
	return call{start: time.Now(), bytes: t.carried()}
}

func (t *timed) carried() int64 {
	if t.proxy == nil {
		return 0
	}
	toServer, toClient := t.proxy.Carried()
	return toServer + toClient
}

func (t *timed) end(method string, c call, items int) {
	took, bytes := time.Since(c.start), t.carried()-c.bytes
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.mu.calls[method]
	if s == nil {
		s = &calls{}
		t.mu.calls[method] = s
	}
	s.n++
	s.items += items
	s.total += took
	s.bytes += bytes
}

// print writes one line per method called since the last reset.
func (t *timed) print(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	methods := make([]string, 0, len(t.mu.calls))
	for m := range t.mu.calls {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	for _, m := range methods {
		c := t.mu.calls[m]
		bytes := ""
		if t.proxy != nil {
			bytes = fmt.Sprintf("  %9s bytes", thousands(c.bytes))
		}
		fmt.Fprintf(w, "    %s  %-10s %3d calls %7s items  %6.3f s (%5.1f ms each)%s\n",
			t.Region(), m, c.n, thousands(int64(c.items)), c.total.Seconds(), float64(c.total)/float64(c.n)/1e6, bytes)
	}
}

func (t *timed) Digests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.RangeDigest, error) {
	defer t.end("Digests", t.begin(), len(ranges))
	return t.Store.Digests(ctx, table, ranges)
}

func (t *timed) KeyDigests(ctx context.Context, table string, ranges []xregion.KeyRange) (kds []xregion.KeyDigest, err error) {
	defer func(c call) { t.end("KeyDigests", c, len(kds)) }(t.begin())
	return t.Store.KeyDigests(ctx, table, ranges)
}

func (t *timed) Records(ctx context.Context, table string, keys []string) ([]xregion.Record, error) {
	defer t.end("Records", t.begin(), len(keys))
	return t.Store.Records(ctx, table, keys)
}

func (t *timed) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	defer t.end("Apply", t.begin(), len(b.Writes))
	return t.Store.Apply(ctx, b)
}

func (t *timed) Changes(ctx context.Context, q xregion.ChangeQuery) (cs []xregion.Change, err error) {
	defer func(c call) { t.end("Changes", c, len(cs)) }(t.begin())
	return t.Store.Changes(ctx, q)
}

func (t *timed) Watermark(ctx context.Context, peer xregion.Region) (xregion.Position, error) {
	defer t.end("Watermark", t.begin(), 1)
	return t.Store.Watermark(ctx, peer)
}
