// Package xregion is the shared vocabulary of a library that keeps services
// alive when a whole cloud region fails: the types every other package of
// xregion speaks in.
//
// # The pieces
//
//   - Region names a region ("us-east-1").
//   - Timestamp and Clock form a hybrid logical clock (HLC): wall time in
//     nanoseconds plus a logical counter. Clock.Now never goes backwards and
//     never repeats; Clock.Update folds in timestamps seen from other regions.
//   - Version is (Timestamp, Region): one write's identity, totally ordered.
//   - Record is one entity's state in one table: key, value, Version, the
//     Base version its writer had read, an Epoch (fencing token) and a
//     Tombstone flag for deletes.
//   - Store holds one region's records. Store.Apply resolves a Batch of
//     writes through each table's Resolver, appends what changed to the
//     region's changelog (read back as Change values by Position), records
//     lost updates in a ledger and moves the sending peer's watermark, all in
//     one transaction.
//   - Optional capabilities of a Store, found by type assertion: Stager
//     (accept a peer's writes durably now, resolve them later: synchronous
//     replication), Leaser (one shipper per peer across processes) and
//     Digester (digests of key ranges where the records live, so that two
//     regions find what differs without copying: package resync).
//   - Resolver decides what a key holds when a write arrives: last-write-wins
//     (package lww), a CRDT merge (package crdt) or a single home region
//     (package partition).
//
// # Choosing a strategy
//
// Each table settles two regions writing the same entity in one of three
// ways, one per package. Choose per table, from what a lost or reordered
// write would cost.
//
//   - Last-write-wins (package lww) lets every region write every key at
//     any time, with no cross-region round trip and no waiting for a
//     failover; when two regions edit a key concurrently, the higher
//     version wins and the other edit goes to the lost-update ledger.
//     Choose it for state a writer replaces whole, where losing a
//     concurrent edit now and then, and finding it in the ledger, is
//     acceptable: profiles, addresses, settings. Cheapest in every way: one
//     value, one version.
//   - A CRDT (package crdt) merges concurrent updates so that none is lost:
//     every increment of a counter, every add to a set. Choose it when
//     updates commute and all must count: counters, amounts spent, tags,
//     memberships, entities made of such fields. The price: the value must
//     be one of its types, its metadata grows with the number of regions,
//     and an invariant that needs to know everything ("at most one",
//     "unique", "never below zero" beyond what a bounded counter's split
//     rights give) cannot be kept by merging alone.
//   - Single writer (package partition) lets exactly one region write each
//     entity at a time, so its updates are never concurrent, never lost and
//     never reordered, and a read-modify-write in its home sees every
//     earlier write. Choose it for money, inventory, orders: anything with
//     invariants two regions deciding independently could break (double
//     spending, overselling, a username taken twice). The price: a write
//     made away from home costs a round trip to it; when the home fails,
//     its entities wait for a failover, which needs people; and what the
//     old home wrote but had not shipped is quarantined, not merged.
//
// Package crdt's Example_lastWriteWins, Example_crdt and Example_singleWriter
// show the three on one situation each.
//
// How a table's writes reach the other regions is chosen apart, by tier
// (package replicate): synchronously for RPO 0 (Sync: a write is
// acknowledged once the peers hold it), asynchronously for an RPO of
// seconds (Async: a changelog shipper per peer), by periodic snapshot for
// an RPO of an interval (Snapshot), or by backups alone.
//
// Implementations live in subpackages: store/memstore (in memory, the
// embedded default) and store/pgstore (PostgreSQL); regiontest builds regions
// on real databases behind fault-injecting proxies for tests.
//
// # Words
//
// A few words mean one thing each across xregion's packages and docs:
//
//   - A partition is a slice of a single-writer table's keys with one home
//     region and one epoch (package partition). A Kafka partition is
//     always called that (package bridge). A network split, or a region cut
//     off, is what a fault proxy's Blackhole makes; the docs never call it a
//     partition.
//   - The Guard fences writes from a stale home (package partition); the
//     RPO guardrail holds back writes while a peer's lag is past its tier's
//     target (package replicate). One refuses by epoch, the other by lag.
//   - A link is one direction of replication between two regions; its
//     LinkState and PeerLag are what replicate and bridge report.
//
// # Guarantees
//
// A Batch is applied entirely or not at all. A batch read from a peer's
// changelog carries its place (After, Through] in that changelog; the store
// keeps the peer's watermark in the same transaction as the writes, so a
// batch sent twice is applied once and a batch that would leave a gap is
// refused (ErrWatermark). Store.Changes never hands out a change while an
// open transaction could still commit one ordered before it (the outbox
// trap), so a shipper that resumes after the last change it read skips
// nothing.
//
// Every Timestamp a Clock hands out is after every Timestamp it handed out or
// was updated with before, so a write made after a region saw a remote write
// is stamped after it, and last-write-wins keeps it.
//
// Bytes that arrive from another region are untrusted: DecodeRecord and
// Timestamp.UnmarshalBinary refuse anything malformed with an error wrapping
// ErrCorrupt, and Record.Validate bounds keys (MaxKeyLen) and values
// (MaxValueLen).
//
// # Hazards
//
// HAZARD: clock skew. An HLC orders events causally, not by real time. Two
// writes made in different regions less than the clocks' offset apart may be
// ordered against real time: under last-write-wins the one made later can
// lose. Such writes are concurrent, so the loser is recorded in the
// lost-update ledger; nothing is lost silently. Keep regions' clocks
// synchronised (NTP, or a cloud time service) well within MaxOffset.
//
// HAZARD: the maximum offset. Clock.Update refuses a remote timestamp more
// than MaxOffset (DefaultMaxOffset, 500 ms) ahead of the local wall clock
// with a *ClockOffsetError, instead of letting one broken clock drag every
// region into the future. The refusal lifts by itself once the local clock
// catches up; until then replication from that region stalls, and its lag
// shows it.
//
// HAZARD: wall clock jumps. If the wall clock jumps backwards, Now keeps
// counting logically from the last timestamp, so timestamps stay unique and
// increasing, but they stop tracking real time until the wall clock passes
// them again.
//
// HAZARD: the end of time. Timestamps end at WallTime math.MaxInt64, in
// April 2262; Timestamp.Next of the last one returns it unchanged instead of
// wrapping to a negative Timestamp before all others. A Clock gets there
// only with a wall clock that far ahead, or a MaxOffset of centuries that
// lets Update fold in a remote timestamp that far ahead; it then returns
// that last Timestamp again and again: its readings stop being unique, but
// never go back.
//
// HAZARD: ties. Versions that share a Timestamp are ordered by Region name,
// the same way in every region. Two processes in one region with separate
// clocks can stamp identical Versions on different writes; resolvers must
// break that tie deterministically on the records' contents (lww does).
package xregion
