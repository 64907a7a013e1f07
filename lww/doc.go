// Package lww is the last-write-wins xregion.Resolver: of two writes of a
// key, the one with the higher version is kept, in every region, whatever the
// order in which the writes arrive; and a write that loses to one whose
// writer had not seen it is reported, so that the store records it in the
// lost-update ledger.
//
// A region builds one Resolver on the clock that stamps its writes and
// declares its last-write-wins tables with it:
//
//	clock, err := xregion.NewClock(xregion.SystemClock{})
//	...
//	r, err := lww.New(clock) // the same clock the region stamps writes with
//	...
//	err = store.DefineTable(ctx, "customers", r)
//
// # The order
//
// Writes are totally ordered: by Version (HLC timestamp, then region name),
// and, when two different writes carry the same Version (two processes of
// one region with separate clocks can stamp one), by their contents:
//
//  1. a tombstone beats a value (a delete wins the tie, as in Cassandra);
//  2. then the bytewise larger Value;
//  3. then the larger Epoch;
//  4. then the larger Base.
//
// Only identical records compare equal, and an identical record is a replay:
// Resolve leaves the key alone and reports nothing. Applying any write twice
// leaves the key as it was; a concurrent loser applied twice is reported
// twice, though, so stores record a loss once per (table, key, lost version)
// and apply each peer batch exactly once. (pglogical, by contrast, applies
// the remote row on a tie, and two nodes can end up holding different rows.)
//
// # Guarantees
//
// Convergence. Resolve keeps the greater of the stored and the incoming
// record, so what a key holds is the maximum, under the order above, of the
// writes the region has applied. Regions that have applied the same writes
// hold the same record, in whatever order the writes arrived.
//
// Reported losses. A write that loses is either one its winner's writer had
// seen (it was superseded, which is what the writer meant) or one it had not
// (it was concurrent and lost). Resolve tells them apart, and returns every
// concurrent loser it meets in Resolution.Lost; the store puts it in the
// lost-update ledger in the same transaction. DynamoDB global tables resolve
// the same way and never tell anyone what they dropped; PostgreSQL PGD can log
// conflicts to a table, but not by default. Here the ledger is always on.
//
// Causality. Every incoming timestamp is folded into the region's clock
// (Clock.Update), winner or not. A write stamped with that clock afterwards
// is stamped after every write it has seen, so a write made after reading a
// remote write wins over it, however far behind the local wall clock is. A
// writer stamping with another clock (another process) must fold the Base it
// read into that clock first (see "Writes stamped at or before their Base").
//
// Resolve is pure apart from that clock update: it does no I/O, never
// modifies its arguments, and returns records that share no memory with
// them. A Resolver is safe for concurrent use. Make it with New: the zero
// Resolver has no clock to fold versions into, and refuses every record
// with an error wrapping xregion.ErrInvalid rather than panic.
//
// # Concurrency
//
// Two writes were concurrent when neither writer had seen the other's
// version. Record.Base says what a writer had seen. The writer of w saw
// version v when
//
//   - w.Base orders at or after v: the writer read v, or a later version,
//     which beats v wherever the two meet; or
//   - w is a blind write (zero Base) from v's own region, stamped after v:
//     the region's store applied v before it, so the blind write means to
//     overwrite it.
//
// So a write that supersedes what its writer read is not a conflict; a write
// arriving late that the stored record's writer had already seen is dropped
// silently; two regions editing the same version, or one region overwriting
// another's write blind, are conflicts. Two processes of one region that
// read the same version and both write it are a conflict too: Base, not the
// region, decides.
//
// Each region reports what it detects. With two concurrent writes a and b,
// the region that receives the winner second replaces the loser and reports
// it; the region that receives the loser second drops it and reports it. Both
// report the same record, the loser. When the stored record is kept,
// Resolution.Changed is false and Resolution.Record is zero: the winner the
// ledger names is the stored record's version.
//
// # Deletes
//
// A delete is a write: a tombstone with a Version and a Base, no value. It
// competes like any other write. A write made after reading the tombstone,
// or a newer blind write of the deleting region, resurrects the key; an older
// concurrent write does not, and goes to the ledger; a concurrent delete that
// loses to a newer write goes to the ledger as well. Tombstones are never
// dropped by this package: a store that purged a tombstone would let an older
// write resurrect the key. Retention (replicate.WithRetention) collects one
// only when no older write of its key can still arrive; see its HAZARD.
//
// # Clocks far in the future
//
// A record stamped more than the clock's MaxOffset ahead of the local wall
// clock is refused: Resolve returns an error that names the key and wraps the
// *xregion.ClockOffsetError (errors.Is(err, xregion.ErrClockOffset)), and the
// store fails the whole batch that carried it. The choices were:
//
//   - accept it: the write would beat every write made anywhere until real
//     time caught up with it, and drag this region's clock into the future;
//   - quarantine it (store it aside, apply the rest): which write wins would
//     then change silently, depending on when the quarantine is lifted;
//   - refuse it: replication from that peer stops, its lag grows where the
//     lag tracker shows it, and nothing is lost. The refusal lifts by itself
//     once the local wall clock is within MaxOffset of the timestamp, or
//     after an operator fixes the broken clock.
//
// Refusing delays, loses nothing, and shows; so it refuses.
//
// # Hazards
//
// HAZARD: a clock far in the future stalls its peer's stream. One region
// whose clock runs more than MaxOffset ahead stops replication from that
// region to every other until real time catches up (for a clock a day ahead,
// a day). The replication-lag alert is how you find out; fix the clock.
//
// HAZARD: skew within MaxOffset. An HLC orders writes causally, not by real
// time. Two writes made in different regions less than the clocks' offset
// apart, neither having seen the other, may be ordered against real time: the
// later one may lose. They are concurrent, so the loser is reported (but see
// HAZARD: one Base); that is what the ledger is for. Keep clocks synchronised
// well within MaxOffset.
//
// HAZARD: one Base. Base is a single version, not a history, so a writer
// that read version b is taken to have seen every version ordered before b.
// If a and b are concurrent and b wins, a region where a arrives only after
// a write built on b has replaced b drops a silently; if every region that
// could have met a against b meets it that way, the loss is reported
// nowhere. (Version vectors would close this gap at the cost of metadata
// that grows with the number of regions.) The same lost write may also be
// reported by several regions, against different winners: deduplicate the
// ledgers by the lost record's table, key and version.
//
// Writes stamped at or before their Base. A writer must fold Base into its
// clock before stamping (Clock.Update, then Clock.Now; the replicators do).
// A write stamped before the version it read would lose to it everywhere,
// without a report, so Record.Validate refuses it and no store accepts it.
//
// HAZARD: several processes writing one region. The blind-write rule trusts
// that a region's writes are applied in the order of their versions. Each
// process has its own clock; a blind write stamped just before another
// process's blind write that committed first loses to it locally, without a
// report (Store.Apply counts it as Unchanged). Where that matters, read the
// key and set Base.
//
// HAZARD: equal Versions. When two processes of one region stamp the same
// Version on different writes, the tie is broken on contents (delete first,
// then the larger value), which says nothing about which came later; the
// loser is reported.
//
// # Choosing a strategy
//
// Last-write-wins against a CRDT and a single writer: see the xregion
// package documentation, "Choosing a strategy".
package lww
