package partition

import (
	"fmt"

	"github.com/xregion/xregion"
)

// Guard is the Resolver of a single-writer table: it wraps the table's own
// Resolver (typically last-write-wins) and fences, with the Router's
// ownership map, every record written under a grant that has moved on. A
// fenced record is not applied; it goes to the lost-update ledger with
// Reason xregion.LostFenced, which is the quarantine (see Router.Quarantine).
//
// Resolve reads the Router's in-memory snapshot and does no I/O; its only
// side effect is noting, in that memory, an epoch newer than the map knows.
// A Guard is safe for concurrent use.
type Guard struct {
	r     *Router
	inner xregion.Resolver
}

var _ xregion.Resolver = (*Guard)(nil)

// NewGuard returns the Guard of a single-writer table whose records inner
// resolves once they pass the fence. Declare the table with it:
//
//	g, err := partition.NewGuard(router, lwwResolver)
//	err = store.DefineTable(ctx, "accounts", g)
func NewGuard(r *Router, inner xregion.Resolver) (*Guard, error) {
	if r == nil {
		return nil, invalid("guard router", "nil; pass the region's *partition.Router")
	}
	if f, ok := inner.(xregion.ResolverFunc); inner == nil || ok && f == nil {
		return nil, invalid("guard resolver", "nil; pass the table's resolver, e.g. an lww.Resolver")
	}
	return &Guard{r: r, inner: inner}, nil
}

// Resolve fences, then defers to the inner resolver. With E the highest
// epoch among the partition's current grant, the stored record and the
// incoming one, a record is current when its epoch is E and, if the map
// knows epoch E, it was written in E's home. Then:
//
//   - An incoming record that is not current is never applied. If the
//     stored record's writer had certainly seen it (see below), it is
//     simply superseded; otherwise it is returned as Lost with Reason
//     LostFenced (Changed false): the store quarantines it in the ledger and
//     the batch goes on.
//   - A current incoming record replaces a stored record that is not
//     current (one written under an older grant, or by a region that lost
//     an epoch tie): the inner resolver sees an empty key. The displaced
//     record is reported LostFenced unless the incoming writer had certainly
//     seen it.
//   - Two current records go to the inner resolver.
//
// An incoming record with an epoch newer than the map knows is accepted: it
// proves that a newer grant exists, made in a region whose ownership record
// has not arrived here yet (it travels in that region's changelog, perhaps
// behind a link that is slower or down). Refusing it would stall this peer's
// stream until then; accepting it is safe, because every record of an older
// epoch is fenced by it, and the Router stops stamping writes for the
// partition until its map catches up.
//
// A writer certainly saw a version v when it read v itself, or read a later
// write of v's own region, or wrote blind after v in v's region. This is
// stricter than lww's "one Base" rule (read any later version), on purpose:
// a stale write must never leave every ledger only because the new home's
// clock runs ahead of the old one's.
//
// Errors come only from the inner resolver (for example a clock far in the
// future) and for a stored record of another key; a stale epoch is never an
// error, so it never stalls replication.
func (g *Guard) Resolve(local, incoming xregion.Record) (xregion.Resolution, error) {
	held := !local.Version.IsZero()
	if held && local.Key != incoming.Key {
		return xregion.Resolution{}, invalid("guarded record "+quote(incoming.Key), "resolved against the stored record of key %s", quote(local.Key))
	}
	if held && local.Equal(incoming) {
		return xregion.Resolution{}, nil // a replay of what the key holds
	}
	p := g.r.Partition(incoming.Key)
	cur, _ := g.r.current(p)
	top := max(cur.Epoch, incoming.Epoch)
	if held {
		top = max(top, local.Epoch)
	}
	current := func(rec xregion.Record) bool {
		if rec.Epoch != top {
			return false
		}
		// An epoch the map does not know yet has no known home: trust it
		// (see above). An epoch it knows must come from its home: a record
		// of the same epoch from elsewhere lost an epoch tie.
		return top > cur.Epoch || cur.Home != "" && rec.Version.Region == cur.Home
	}

	if !current(incoming) {
		if held && superseded(local, incoming.Version) {
			return xregion.Resolution{}, nil
		}
		lost := incoming.Clone()
		return xregion.Resolution{Lost: &lost, Reason: xregion.LostFenced}, nil
	}
	if incoming.Epoch > cur.Epoch {
		g.r.sawEpoch(p, incoming.Epoch)
	}
	if held && current(local) {
		res, err := g.inner.Resolve(local, incoming)
		if err != nil {
			return xregion.Resolution{}, fmt.Errorf("partition guard: %w", err)
		}
		return res, nil
	}
	res, err := g.inner.Resolve(xregion.Record{}, incoming)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("partition guard: %w", err)
	}
	res.Lost, res.Reason = nil, xregion.LostConcurrent
	if held && !superseded(incoming, local.Version) {
		lost := local.Clone()
		res.Lost, res.Reason = &lost, xregion.LostFenced
	}
	return res, nil
}

// superseded reports whether the writer of w had certainly seen version v,
// so that v being dropped is what that writer meant: w's writer read v
// itself, or read a later write of v's own region, or w is a blind write
// made after v in v's region. Each region applies its own writes of a key in
// the order it stamps them, so a later write of v's region was made on a
// store that had v.
//
// This is stricter than lww's rule, which also takes a writer that read any
// later version, from any region, to have seen v (its HAZARD: one Base).
// For last-write-wins that is harmless: v would have lost to what the writer
// read anyway. For fencing it is not: a stale write would vanish from every
// ledger just because the new home's clock runs ahead. So a stale write
// counts as superseded only on this evidence, and otherwise is quarantined.
func superseded(w xregion.Record, v xregion.Version) bool {
	switch {
	case w.Base == v:
		return true
	case !w.Base.IsZero():
		return w.Base.Region == v.Region && v.Less(w.Base)
	}
	return w.Version.Region == v.Region && v.Less(w.Version)
}
