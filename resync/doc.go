// Package resync brings a region back after a failover ("failback"):
// it finds what two regions hold differently without copying their
// tables, settles each difference through the table's resolvers, applies
// the result to both, and proves them equal.
//
// # The steps
//
//   - Diff finds the keys that differ and returns a Plan, changing
//     nothing (a dry run stops here; Plan.Print shows it, and it marshals
//     to JSON). By default it reads the changelogs: each region's writes
//     past the other's watermark for it. For the region that was cut off
//     these are the writes it took but never shipped; they are listed
//     (Unshipped) and resolved into the other region like any peer write,
//     not rewound away as pg_rewind would. Where retention removed changes
//     the other lacks (a region dark past replicate.Retention's limit,
//     xregion.TruncatedError), the plan says so (Gap.Truncated), reads
//     what is left, and finds the keys by digests as well; Apply moves the
//     watermark past the cut, so that shipping resumes. WithDigestsOnly
//     finds the keys by digests alone (below), for regions whose
//     changelogs no longer cover what the other lacks at all.
//   - For each key, the records of both regions are read and resolved with
//     each region's resolver, as its store will: under last-write-wins
//     only the winner moves, and the loser lands in its own region's
//     lost-update ledger when the winner displaces it; a CRDT's merge
//     moves both ways; a single-writer table's current epoch decides, and
//     a stale home's write is quarantined in a ledger, never dropped. A
//     stale write that a region holds while the other holds nothing newer
//     is left apart by fencing alone: Table.Reassert has the home write
//     the key again.
//   - Plan.Apply reads both records again and sends each region what it
//     must receive, as peer batches through Store.Apply, so changelogs,
//     ledgers and staged writes stay right, and moves the watermarks past
//     the changelog gaps, so that replication resumes without shipping
//     them again: in the transaction of each region's last batch, or
//     after it where replication moved the watermark since the plan.
//   - Verify compares the regions by digests, at any time, and lists the
//     keys that differ; writes stamped after the resync began are listed
//     apart, as still on their way.
//   - Run does all of it, and repairs from digests whatever the changelogs
//     did not cover before verifying again. It applies the records its plan
//     read moments before rather than reading them again: each store
//     resolves what it receives against what it holds by then, as it does
//     what replication carries, so a write that arrived meanwhile wins or
//     loses as it would anyway.
//
// # Digests
//
// A store that implements xregion.Digester summarises a table by ranges of
// key hash: per range, a count and the XOR of its records' hashes,
// computed where the records live (in SQL for store/pgstore). Resync
// compares DefaultFanout ranges first, splits only the ranges that differ,
// and compares key by key only ranges of a few keys, so the bytes it moves
// grow with the keys that differ, not with the table (Cassandra's repair
// streams whole ranges; pt-table-sync hashes chunks in the same spirit).
// store/pgstore keeps the digests of its coarse ranges up to date as it
// writes, so that a first pass, and the verification, read about a
// thousand rows whatever the size of the table, where Cassandra's repair
// and pt-table-checksum read all of it.
//
// # Resuming
//
// There is no checkpoint file: the stores are the checkpoint. Every batch
// commits its records, ledger entries and changelog entries in one
// transaction, and a second run finds equal whatever the first settled. So
// a run cut off anywhere (a dead link, a cancelled context) is finished by
// running it again, and nothing is moved twice.
//
// HAZARD: the returning region should take no writes until failback ends:
// a write it takes meanwhile is found by the verification, or shipped by
// its replicator, but not by a plan made before it. The survivor may go on
// serving; its new writes reach the returning region through replication
// and are named as newer by the verification.
//
// HAZARD: clocks. Verify counts as newer a write stamped after the resync
// began (and not further ahead of its clock than clocks may drift); a
// verifier whose clock runs behind the regions' would excuse a real
// difference made meanwhile. Run it where the regions' clocks are kept.
package resync
