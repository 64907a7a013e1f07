package kv

import (
	"sync"

	"github.com/xregion/xregion"
)

// Resolver is the xregion.Resolver of a kv table in one region: it wraps
// the table's strategy (inner: lww, or a partition.Guard around lww) and
// adds two rules.
//
//   - The writes of this region's Table are conditional on what their
//     writer read: one whose Base is not the version the key holds when
//     it is applied (another writer of the region got there first) is
//     refused with a *ConflictError, so its Apply fails and nothing is
//     written. The condition belongs to the call, like the WHERE of an SQL
//     UPDATE, not to the record: the same record arriving any other way
//     (from a peer, replayed, copied back by resync) is resolved by inner
//     alone, so every region resolves it the same way.
//   - A delete that loses to a concurrent delete is not reported lost:
//     the key is deleted either way. Two regions sweeping the same expired
//     entry leave no ledger entries.
//
// Everything else is inner's decision. A Resolver is safe for concurrent
// use. Declare each store's kv table with its own (New does), including a
// peer's store that this process applies changes to.
type Resolver struct {
	inner xregion.Resolver
	mu    struct {
		sync.Mutex
		pending map[pendingKey]*outcome // the writes of this region's Table in flight
	}
}

var _ xregion.Resolver = (*Resolver)(nil)

type pendingKey struct {
	key string
	v   xregion.Version
}

// outcome is what the store did with a pending write, as its Resolve saw.
type outcome struct {
	seen   bool // Resolve was called on it
	kept   bool // the key holds it afterwards
	reason string
}

// NewResolver wraps inner, the table's strategy. A nil inner is an
// *xregion.InvalidError.
func NewResolver(inner xregion.Resolver) (*Resolver, error) {
	if f, ok := inner.(xregion.ResolverFunc); inner == nil || ok && f == nil {
		return nil, invalid("kv resolver", "nil inner resolver; pass the table's strategy, e.g. an lww.Resolver")
	}
	r := &Resolver{inner: inner}
	r.mu.pending = make(map[pendingKey]*outcome)
	return r, nil
}

// Resolve refuses a pending write of this region's Table that does not
// follow what the key holds, and otherwise defers to the inner resolver
// (see Resolver). It never modifies local or incoming.
func (r *Resolver) Resolve(local, incoming xregion.Record) (xregion.Resolution, error) {
	if r == nil || r.inner == nil {
		return xregion.Resolution{}, invalid("kv resolver", "zero value; construct it with kv.NewResolver")
	}
	pk := pendingKey{incoming.Key, incoming.Version}
	r.mu.Lock()
	out := r.mu.pending[pk]
	r.mu.Unlock()
	if out != nil && !local.Equal(incoming) && local.Version != incoming.Base {
		r.note(out, false, "conflict")
		return xregion.Resolution{}, &ConflictError{Key: incoming.Key, Read: incoming.Base, Found: local.Version}
	}
	res, err := r.inner.Resolve(local, incoming)
	if err != nil {
		return res, err
	}
	if res.Lost != nil && res.Lost.Tombstone && res.Reason == xregion.LostConcurrent {
		kept := local
		if res.Changed {
			kept = res.Record
		}
		if kept.Tombstone {
			res.Lost = nil
		}
	}
	if out != nil {
		kept := res.Changed && res.Record.Equal(incoming) || !res.Changed && local.Equal(incoming)
		reason := "dropped by the table's resolver"
		if res.Lost != nil && res.Lost.Version == incoming.Version {
			reason = "lost (" + res.Reason.String() + ") to " + local.Version.String() + "; see the lost-update ledger"
		}
		r.note(out, kept, reason)
	}
	return res, nil
}

func (r *Resolver) note(o *outcome, kept bool, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o.seen, o.kept, o.reason = true, kept, reason
}

// track registers writes of this region's Table before they are written,
// and returns their outcomes and the function that forgets them.
func (r *Resolver) track(ws []xregion.Write) ([]*outcome, func()) {
	outs := make([]*outcome, len(ws))
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range ws {
		outs[i] = &outcome{}
		r.mu.pending[pendingKey{w.Record.Key, w.Record.Version}] = outs[i]
	}
	return outs, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, w := range ws {
			delete(r.mu.pending, pendingKey{w.Record.Key, w.Record.Version})
		}
	}
}

// result reads an outcome under the lock.
func (r *Resolver) result(o *outcome) outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *o
}
