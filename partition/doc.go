// Package partition gives each entity one home region that alone writes it,
// and fences, in every region, the writes of a home that has lost the
// entity: single writer per entity, with ownership epochs as fencing tokens.
//
// Entity keys (customer ids) map to a fixed number of partitions; an
// ownership map gives each partition a home region and an epoch; a Router
// tells a service where a key's writes must go and stamps the ones it may
// make here; a Guard, wrapped around a table's Resolver, refuses in every
// region a record stamped under an epoch older than its partition's current
// one, and keeps it in the lost-update ledger (the quarantine) instead of
// applying it. Ownership moves by Handover (planned, nothing lost) or by
// Failover (the home is gone; two people approve).
//
//	router, err := partition.New(ctx, store, clock, 64) // 64 partitions, forever
//	guard, err := partition.NewGuard(router, lwwResolver)
//	err = store.DefineTable(ctx, "accounts", guard)
//	_, err = router.Bootstrap(ctx, func(p int) xregion.Region { return "us-east-1" }) // once, anywhere
//
//	// A service writing customer 42:
//	rec, err := router.Stamp(xregion.Record{Key: "customer-42", Value: v, Base: read.Version})
//	if home, ok := partition.HomeOf(err); ok {
//		// not ours: send the write to home
//	}
//	rec.Version, err = clock.Stamp(router.Region(), rec.Base)
//	res, err := store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "accounts", Record: rec}}})
//
// # Choosing a strategy
//
// A single writer against last-write-wins and a CRDT: see the xregion
// package documentation, "Choosing a strategy". This package's Example
// shows a single-writer table through a failover.
//
// A table uses one strategy. A single-writer table's Guard wraps another
// Resolver (normally lww), which settles the writes the home makes
// concurrently with itself (two processes, or a read-modify-write race).
//
// # Partitions
//
// The partition of a key is FNV-1a (64 bit) of its entity key, modulo the
// partition count N (Partitioner). The function is part of the format: the
// same in every region, every version and any language (test vectors in
// partitioner_test.go); never Go's map hash, which is seeded per process.
// By default the entity key is the record key; WithEntityKey maps keys
// such as "customer-42/order-7" to their entity, so that all of a
// customer's records share a partition and a home.
//
// N is fixed when the map is created. Changing it would move most keys to
// other partitions, and so to other homes, under the feet of every region;
// a Router with another N is refused (*PartitionCountError), and so is an
// ownership record of another N arriving from a peer. Choose N for the
// granularity you want to move ownership in (64 to a few hundred is
// typical), up to MaxPartitions.
//
// # The ownership map
//
// The map is an ordinary xregion table (DefaultTable, "partition_owners"),
// one record per partition (key OwnershipKey(p), a JSON value with the
// home, the epoch, how the grant was made and who approved it), so it
// replicates between regions like any table and works on every Store. Its
// resolver keeps the later grant: the higher epoch, and between two grants
// of the same epoch (two failovers during a partition) the higher record
// version, so every region ends with the same map whatever order grants
// reach it in. Two grants of one epoch are a split brain; the losing one
// goes to the ledger as a concurrent loss, for someone to look at.
//
// Each Router keeps the map in memory, so Route, Stamp and Guard.Resolve do
// no I/O. The snapshot moves only forward, and is updated when the Router
// makes a move, when Refresh reads the table, and, at once, whenever the
// store applies an ownership record through the table's resolver (which New
// declares): a region's Guard fences by a new grant from the very next
// record its replicator applies.
//
// # Fencing
//
// Every grant of a partition has a higher epoch than the one before, and
// every record of a single-writer table carries the epoch it was stamped
// under (xregion.Record.Epoch): Kleppmann's fencing tokens. With E the
// highest epoch among the partition's current grant, the stored record and
// the incoming one, a record is current when its epoch is E and, if the map
// knows epoch E, it comes from E's home. The Guard:
//
//   - never applies an incoming record that is not current. It returns it
//     as Resolution.Lost with Reason xregion.LostFenced, and the store keeps
//     it in the lost-update ledger: that is the quarantine, listed by
//     Quarantine, listed in Result.Lost. It never returns an error for
//     a stale epoch: failing the batch would stall replication from that
//     peer for good.
//   - lets a current record replace a stored record that is not current
//     (written under an older grant, or by the loser of an epoch tie),
//     quarantining the displaced record unless the new writer had seen it.
//   - hands two current records to the inner resolver.
//
// A record with an epoch newer than the map knows is accepted: it proves a
// newer grant exists, whose ownership record travels in another region's
// changelog and has not arrived yet, perhaps over a slower link, perhaps
// from a region that has since gone dark. Refusing it would stall this
// peer's stream until then, possibly forever; accepting it is safe, since
// it fences every older epoch, and the Router stops stamping writes for
// that partition here until its map catches up.
//
// A stale write counts as seen, and so is dropped without a ledger entry,
// only on certain evidence: the writer read that very version, or a later
// write of the same region. lww's looser rule (having read any later
// version) would let a stale write vanish from every ledger just because
// the new home's clock runs ahead.
//
// The local write path is checked before Apply: Stamp refuses a key whose
// partition is homed elsewhere with a *NotHomeError (HomeOf says where to
// send it), and, when this region has seen a newer epoch than its map
// knows, with a *StaleEpochError; Check does the same for a record stamped
// earlier. A StaleEpochError names the partition, its current epoch and
// the record's.
//
// # Moving ownership
//
// Bootstrap assigns a home to every partition that has none, at epoch 1.
//
// Handover runs in the old home. It writes the new grants (epoch + 1) in
// the old home's store, which stops the old home at once, and waits until
// the new home has applied the old home's changelog through them. The
// grants are the barrier: they follow every write the old home made under
// the old epoch in its changelog, which every region applies in order, so
// the new home learns that it owns the partitions only when it holds all of
// those writes (RPO 0), and no region, however far behind, receives one of
// them after the grant that would fence it. Waiting first and granting
// after, as a runbook would, cannot be made exact while the old home keeps
// writing other partitions; the barrier can. The partitions are unwritable
// for as long as the new home lags; the move cannot be called off once the
// grants are written.
//
// Failover runs in the new home and grants at once, because the old home is
// gone, with the approvals of WithApprovals distinct people (two by
// default). If the store stages synchronous writes (xregion.Stager), it
// applies them first: they were acknowledged, so they belong before the
// move. Whatever the old home wrote that this region had not applied is
// fenced when it arrives: quarantined, not lost.
//
// # Failback after a split brain
//
// A failover while the old home is in fact alive behind a partition is a
// split brain: the old home keeps accepting writes under the old epoch, and
// so do the regions on its side. Fencing decides in each region against the
// map that region knew when a write arrived, so after the partition heals:
//
//   - the new home, and every region that learned of the failover first,
//     have quarantined the old home's writes;
//   - the old home, and regions that received its writes before they
//     learned of the failover, still hold them: nothing arrives to displace
//     them on keys the new home did not write.
//
// To converge: let every region receive every other's changelog; read the
// quarantine of every region (Quarantine; merge by table, key and lost
// version); decide what to do with each write (it was acknowledged to a
// client: usually re-apply its intent in the new home, as a new write);
// then call Reassert in the new home with every key any region
// quarantined. Reassert writes the home's record of each key again under
// the current epoch (a tombstone if the home has none); it is current, so it
// displaces the stale record wherever one is held, quarantining it there.
// Once those writes have replicated, every region holds what the home
// holds. The split-brain tests (internal/splitbrain) run exactly this on
// PostgreSQL regions with skewed clocks, with two and three regions, a
// bystander on the old home's side and two competing failovers.
//
// # Guarantees
//
//   - No region applies a record whose epoch is older than the epoch it
//     knows for the partition, or of that epoch but from another home. A
//     region knows an epoch from the moment it applies the grant, or any
//     record stamped under it.
//   - Every such record is quarantined in that region's ledger unless the
//     record the region holds was written by someone who had certainly
//     seen it. So the region that made a failover quarantines every write
//     of the old home that it had not applied before and that no later
//     write of the old home it did apply superseded.
//   - With the map fixed, the Guard is order-independent: a key ends up
//     holding the inner resolver's winner among the current records, or
//     nothing, whatever order they arrive in.
//   - Handover loses nothing and fences nothing that the old home wrote
//     before it.
//   - Records that arrive from other regions are untrusted: an ownership
//     record that does not decode is refused with an error wrapping
//     xregion.ErrCorrupt, which stops the batch rather than guess.
//
// Router and Guard are safe for concurrent use.
//
// # Hazards
//
// HAZARD: a failover during a partition. See Failback above. Worse, two
// operators failing over the same partition in two regions that cannot see
// each other make two grants of the same epoch; the one with the higher
// record version wins everywhere when they meet, and every write the other
// region made under its grant is quarantined. The two-person rule exists
// so that someone checks, out of band, that the old home is really gone
// and that nobody else is failing it over.
//
// HAZARD: several processes in one region. Each process has its own Router
// and snapshot. A process whose snapshot is behind stamps writes for a
// partition that has moved; its store, resolving with its own Guard,
// accepts them, and every other region quarantines them. Run the
// replicator (which applies the ownership table) in the process that
// serves writes, or call Refresh often; after a Handover, Refresh every
// process of the old home.
//
// HAZARD: between Stamp and Apply. A move that lands between the two
// fences the write in the store: Apply succeeds, the write is quarantined,
// and only Result.Lost says so (the replicators report it as a
// replicate.FencedError). Check it (or call Check just before Apply, which
// narrows the window but cannot close it).
//
// HAZARD: epochs from the future are trusted. A region that stamps records
// with an epoch nobody granted takes the partition over in every region
// that accepts them. Regions trust each other; the map's own records are
// checked (xregion.ErrCorrupt), the data's epochs cannot be.
//
// HAZARD: stale records displaced through the inner resolver. When a
// current record replaces a stale one, the inner resolver is shown an empty
// key: a CRDT wrapped by a Guard does not merge the stale state; it is in
// the quarantine instead.
//
// HAZARD: Reassert writes tombstones for keys that the home never had (the
// old home created them during the split brain). Re-create what should
// exist before reasserting.
//
// HAZARD: Bootstrap from two places at once makes two grants of epoch 1:
// the same tie as two failovers. Bootstrap once.
package partition
