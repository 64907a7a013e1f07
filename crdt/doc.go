// Package crdt holds conflict-free replicated data types (CRDTs) and the
// xregion.Resolver that merges them: for tables where every concurrent
// write must count, and every region must end up with the same state
// without asking the others first.
//
// A CRDT state can be merged with any other state of its type, in any
// order, any number of times, and the result is the same: Merge is
// commutative, associative and idempotent. So regions write locally, ship
// their states to each other whenever they can, and converge; nothing is
// lost and nothing needs a lost-update ledger.
//
// # The types
//
//	GCounter        grow-only count: page views, messages sent
//	PNCounter       exact decimal amounts up and down (apd, never float),
//	                declared NUMERIC(precision, scale): spend, balances
//	BoundedCounter  a balance that never goes below zero, spent locally
//	                from rights each region holds (escrow): stock, credit
//	LWWRegister     one value, the latest write wins: a field of an entity
//	MVRegister      one value, concurrent writes all kept until settled:
//	                a field where silently dropping an edit is not acceptable
//	ORSet           add-wins set without tombstones (riak_dt's ORSWOT):
//	                a cart, tags, group members
//	ORMap           add-wins map of named fields holding any of the above
//	                (but BoundedCounter), maps included: an entity
//
// Every state is an immutable value with a pure Merge. A mutation (Inc,
// Add, Remove, Set...) does not change its receiver: it returns a delta, a
// small state that merges like any other, and that the caller merges into
// its state, writes to the store, or both:
//
//	d, err := cart.Add(region, "sku-42") // the delta
//	cart = cart.Merge(d)                 // the new state
//
// # Choosing a strategy
//
// A CRDT against last-write-wins and a single writer: see the xregion
// package documentation, "Choosing a strategy"; Example_lastWriteWins,
// Example_crdt and Example_singleWriter show the three on one situation
// each.
//
// Which CRDT:
//
//   - Only ever goes up: GCounter.
//   - Money or other exact amounts, up and down, may go negative (or is
//     kept from it by other means): PNCounter, with the scale of the
//     currency (2 for EUR, 0 for JPY, 4 or more for unit prices).
//   - Must never go below zero and regions spend it independently:
//     BoundedCounter. Give regions rights where demand is; a region out of
//     rights gets an *InsufficientRightsError and can ask for a transfer.
//   - A value: LWWRegister if the latest is good enough, MVRegister if two
//     concurrent edits must both reach a person or a rule.
//   - A collection: ORSet. A removed element comes back only if it was
//     added concurrently with (not before) the remove.
//   - An entity with several such fields: ORMap.
//
// # Using it with a store
//
// Each region declares its CRDT tables with a Resolver built on the
// region's name and the clock that stamps its writes:
//
//	clock, err := xregion.NewClock(xregion.SystemClock{})
//	resolver, err := crdt.NewResolver("eu-west-1", clock)
//	err = store.DefineTable(ctx, "carts", resolver)
//
// A local write reads the record, applies a mutation to its state, and
// writes the delta (or the new state) as the record's value with Write,
// which stamps it after the version it read:
//
//	rec, err := store.Get(ctx, "carts", key) // ErrNotFound: start from the empty state
//	cart, err := crdt.DecodeAs[crdt.ORSet](rec.Value)
//	d, err := cart.Add("eu-west-1", "sku-42")
//	w, err := crdt.Write(clock, "eu-west-1", key, rec.Version, d)
//	_, err = store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "carts", Record: w}}})
//
// The Resolver merges the delta into the stored state, so the record and
// the changelog always hold whole states, and a peer applies them through
// its own Resolver. If Apply fails with a *StaleWriteError (IsRetryable),
// stamp the same delta again with Write, passing the error's Stored
// version as base.
//
// # Guarantees
//
// Convergence: regions that have applied the same writes, in any order,
// hold identical records: the merge of every state written, with the
// greatest version among them. A replayed write changes nothing. Nothing
// goes to the lost-update ledger.
//
// Exactness: a PNCounter's value is the exact decimal sum of every amount
// added, to the last digit; amounts that would need rounding are refused.
//
// No negative balance: a BoundedCounter's value is never below zero, in
// any region, at any time, whatever the order of merges, of states or of
// deltas (given one writer per replica id; see HAZARDs): the delta of a
// decrement or a transfer carries the rights it spends.
//
// Observed-remove: an ORSet holds exactly the elements of the adds that no
// remove observed; the same holds for ORMap fields and MVRegister values.
//
// No tombstones: removes add no metadata. An ORSet's metadata is one dot
// per element per region that added it concurrently (usually one), plus one
// counter per region, however many adds and removes came before.
//
// Canonical encoding: equal states encode to equal bytes (sorted entries,
// minimal varints), so records can be compared and tables hashed across
// regions. The encoding starts with a format version byte (1) and a type
// tag (Type); each type's appendBody documents the rest.
//
// Untrusted input: Decode refuses bytes that are truncated, oversized,
// not canonical, or break a type's invariants, with an
// *xregion.CorruptError; every count is bounded by the bytes that remain
// and by MaxReplicas, MaxElementLen, MaxDepth and MaxEncodedLen, so no
// input allocates much more than its own size or recurses without bound.
// Every decoder is fuzzed.
//
// Bad arguments are errors, not panics: a nil State, or a pointer to a
// state (the State interface admits one: it has its value's methods), given
// to Merge, Encode, Write or ORMap.Update is an *xregion.InvalidError, as is
// every record given to a Resolver not made by NewResolver.
//
// # The Resolver's rules
//
//   - No stored record: the incoming one is stored as it is, once its
//     value decodes.
//   - Otherwise both values are decoded (an error naming the key if one
//     does not decode, or if they are different types), merged and
//     encoded. The record keeps the greater version, and the base and
//     epoch of the record that carries it. It changes only if that record
//     differs from the stored one: a replay is a no-op, and a newer
//     version of a state already held moves the version (so regions agree
//     on versions too).
//   - Tombstones are refused: a CRDT record is never deleted, removal is
//     expressed inside the state (ORSet.Remove, ORMap.Remove, an empty
//     state). A tombstone merged into a CRDT would have to either win
//     (losing concurrent adds, which is what CRDTs exist to prevent) or
//     lose (meaning nothing).
//   - Incoming versions are folded into the region's clock, so its next
//     writes are stamped after what it holds; a version more than the
//     clock's MaxOffset ahead is refused, as package lww refuses it.
//
// # Hazards
//
// HAZARD: one writer per replica id. Each region's entries in a state
// (its counts, its dots) are written by that region alone, from the state
// it read, which must hold the region's own earlier writes: a delta made
// from an empty state for a key that exists collides with them. Two processes writing with the same region name from the same
// state make colliding deltas: two increments of a GCounter from 5 both
// say "6", and one is lost; two BoundedCounter decrements can spend the
// same rights. Within a region, either serialise the read-modify-write of
// a key (one process, or a lock), or give each process a replica id of its
// own (a valid Region name such as "eu-west-1-a"), at the cost of more
// metadata per state. Never reuse a replica id for a new process that did
// not start from the old one's state.
//
// HAZARD: stale local writes. The changelog ships the writes a region
// originated, by the region of their version. A local write stamped before
// the stored record's version of another region would, once merged, carry
// that region's version and never be shipped. The Resolver refuses it with
// a *StaleWriteError; stamp it again. This needs NewResolver's region to
// be the region that stamps local writes.
//
// HAZARD: limits hold per region. A PNCounter refuses an amount that
// takes the region's own view beyond its precision, but amounts added
// concurrently in several regions can together pass it (as they can take
// a PN counter below zero). The merged value stays exact. If a bound must
// hold everywhere, use a BoundedCounter or a single writer.
//
// HAZARD: resurrection in maps. An ORMap field removed in one region while
// another region updates it comes back, with what the updating region held
// plus its update (add-wins). To empty a field for good, update it with a
// clearing delta (ORSet.Clear, MVRegister.Clear), which removes exactly
// what it observed. A counter field removed and created again while
// another region still updates it merges its two lives, hiding the new
// increments under the old totals: do not reset counters by removal.
//
// HAZARD: metadata grows with replica ids. Every region (replica id) that
// ever wrote a state keeps an entry in it, up to MaxReplicas. Regions are
// few; per-process replica ids multiply them.
//
// HAZARD: merged states can outgrow a record. A merge of two states within
// the limits can pass MaxEncodedLen or MaxReplicas; the Resolver then
// refuses the write with an error naming the key rather than store a value
// no region could decode. Keep sets and maps of unbounded size out of a
// single record: split them over keys.
package crdt
