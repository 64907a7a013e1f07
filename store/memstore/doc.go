// Package memstore is an xregion.Store that keeps one region's records in
// memory.
//
// It has two jobs. It is the embedded default: examples, prototypes and tests
// that need no database run on it, and several memstores in one process act
// as several regions. And it is the reference implementation: it is written
// to be obviously correct rather than fast, and every other Store
// (store/pgstore among them) is held to the behaviour it shows through the
// one contract suite in store/storetest, which memstore passes too.
//
// # Usage
//
//	s, err := memstore.New("us-east-1")
//	if err != nil { ... }
//	err = s.DefineTable(ctx, "orders", resolver) // e.g. an lww.Resolver
//	res, err := s.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "orders", Record: rec}}})
//	rec, err = s.Get(ctx, "orders", "order-1")
//
// # Guarantees
//
//   - Apply is atomic. The batch is validated, its tables checked, the peer
//     watermark compared and every write resolved, in batch order, against a
//     working copy before anything is stored; a key written twice in one
//     batch sees its own earlier write. Only when all of that succeeded are
//     records, changelog, ledger and watermark changed together. An invalid
//     record, an unknown table, a WatermarkError or a Resolver error leaves
//     the store exactly as it was.
//   - Changes are readable at once. Every Apply commits under one mutex, so
//     no transaction is ever open while Changes reads: a change is visible
//     to Changes as soon as Apply returns, and a reader that resumes after
//     the last position it read skips nothing. Positions are (n, i): the nth
//     Apply that changed something, and the change's index in its batch.
//   - The lost-update ledger records each lost write once per (table, key,
//     lost version), however often the losing write is applied again.
//   - Reads cost what they return. Changes and Backlog for an origin go
//     through an index of that origin's changes (running sums and minima
//     for Backlog), never past the changes of other origins: a region that
//     mostly receives reads its own few changes as fast as one that writes.
//   - No aliasing. Records are copied on the way in and on the way out, and
//     the Resolver is given copies, so neither a caller nor a Resolver can
//     change stored bytes by editing a slice.
//   - A Store is safe for concurrent use by any number of goroutines.
//
// # Choices where xregion.Store is silent
//
//   - DefineTable on a defined table replaces its Resolver and keeps its
//     records; a nil Resolver, or a nil ResolverFunc, is refused.
//   - Get with a key no record could have is refused with ErrInvalid rather
//     than answered with ErrNotFound; Watermark with an invalid region too.
//   - A Resolution that claims a change but holds a record for another key,
//     or an invalid record, fails the batch like a Resolver error: storing it
//     would put the store out of step with what peers will accept.
//   - Apply checks, in this order: the batch (ErrInvalid), its tables
//     (ErrUnknownTable), the peer watermark (Duplicate or *WatermarkError),
//     then resolves.
//
// # Hazards
//
//   - Nothing survives the process. A memstore is not durable storage: use
//     it where losing every record on exit is acceptable. Its positions
//     start again too, so peers that kept their watermarks for the region
//     hold positions it has not issued: Changes and Backlog refuse those
//     with a *xregion.PositionsError rather than ship nothing and report a
//     backlog of zero; AdvancePositions moves past them.
//   - Resolvers run while the store's mutex is held, which is how Apply stays
//     atomic. A Resolver must be pure as xregion.Resolver requires; one that
//     calls back into the same Store deadlocks.
//   - Memory grows until something removes what is no longer needed: the
//     store is an xregion.Retainer, which package replicate runs
//     (replicate.WithRetention, replicate.Retain). Without it the
//     changelog, the ledger and the tombstones grow for ever.
//     CollectTombstones looks at every record of every table, and
//     TruncateChanges copies the changelog, under the store's mutex: the
//     reference keeps no index for them.
//   - Change.Time and LostUpdate.At come from the wall clock given with
//     WithWallClock, read once per Apply, so all changes of one batch carry
//     the same time.
package memstore
