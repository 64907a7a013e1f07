// Package replicate carries one region's writes to the others: the write
// path of every tier, and the live RPO that says what a region's loss would
// cost right now.
//
//	async, err := replicate.NewAsync(local, clock, []xregion.Store{peer},
//		replicate.WithTier(replicate.Tier2))
//	defer async.Close()
//	err = async.Write(ctx, xregion.Write{Table: "customers", Record: rec})
//	lags, err := async.Lag(ctx) // per peer: RPO, pending, last contact
//
// A replicator is built on the local region's Store and clock and on the
// Stores of its peers, reached over the network (pgstore on a pool that
// connects to the peer region's database). It does no I/O of its own beyond
// those Stores.
//
// # Tiers and strategies
//
// Tier1 (payments: RPO 0, RTO 15 min) uses Sync; Tier2 (customer APIs: RPO
// 15 min, RTO 1 h) uses Async; Tier3 (reporting: RPO 1 h, RTO 4 h) uses
// Snapshot; Tier4 keeps one region with backups. WithTier declares the tier: a
// configuration that cannot meet it is refused with a *TierError that names
// the tier, the target and the fix, and a peer whose live RPO passes the
// target raises an alert (WithAlerts) and, with WithGuardrail, throttles or
// rejects new writes until it recovers.
//
// # Asynchronous: Async
//
// A write commits in the local store only; concurrent writes share local
// transactions (group commit, WithLocalInFlight at a time), so many writers do not
// pay one commit each. One shipper per peer tails the local changelog (Store.Changes, which is safe against the outbox trap) and
// applies batches on the peer, each together with the peer's watermark in one
// transaction. After a crash or a dropped connection, a shipper resumes from
// the peer's watermark: nothing is applied twice, nothing is skipped, and each
// key's changes arrive in the order they were made. A batch is what has
// accumulated since the last one, up to WithBatchSize, sent as soon as the last
// was acknowledged: latency first, and larger batches under load. The next
// batch is read while the peer applies the current one. Retries back off
// exponentially, half of each wait random.
//
// Each region ships only the writes it originated, so two regions
// replicating to each other do not echo. Several processes may run the same
// replicator: where the local store offers leases (xregion.Leaser, as pgstore
// does with an advisory lock), exactly one of them ships to each peer, and
// another takes over when it dies.
//
// # Synchronous: Sync
//
// A write is stamped, committed locally and staged in the peers
// concurrently, and acknowledged only when the local store and the required
// peers (all, or WithQuorum(k)) hold it. Staging (xregion.Stager) writes the
// record into the peer's inbox in one round trip, durably, without reading
// anything there; the peer resolves and applies it when the changelog stream
// of the Sync's embedded shipper delivers the same change, normally within
// milliseconds. This is PostgreSQL's synchronous_commit = on rather than
// remote_apply: an acknowledged write survives the loss of the writing region,
// and becomes visible in the peer a moment after the acknowledgement. A region
// taking over from a failed peer first runs Stager.ApplyStaged.
//
// Concurrent writers share round trips: the local store and each peer get
// one batch for all the writes waiting when they have a free slot
// (WithLocalInFlight, WithMaxInFlight), so N writers do not cost N sequential round
// trips.
//
// When a peer stops answering, the policy decides. Strict fails the write
// at its context's deadline with a *SyncError and never acknowledges it.
// Degrade waits WithDegradeAfter, then carries on without the peer, alerts, and
// reports the RPO that is now non-zero; once the peer answers again it is
// sent writes again, and once the stream has applied everything committed
// until then, it is synchronous again (AlertRecovered).
//
// A write that failed may still have committed somewhere: the local commit
// and the staging run concurrently, and a timeout after sending says nothing
// about the other side. *SyncError says what is known: whether it committed
// locally, which peers did not acknowledge and why; it wraps
// xregion.ErrOutcomeUnknown where a peer may hold the write anyway. When the
// local commit failed for certain (a resolver's refusal, an unknown table, a
// fenced write), the write is withdrawn from the peers' stages
// (Stager.Withdraw), which also fences a staging still on its way, so that
// no failover makes visible a write its writer was told had failed; only a
// peer that cannot be reached to withdraw it leaves its outcome unknown.
// Writes are stamped in place, so sending the same writes again is safe: a
// replayed version changes nothing. A Sync's peers must be Stagers.
//
// # Fenced writes
//
// A write to a single-writer table (see package partition) that the local
// store fenced for a stale ownership epoch is not applied: it is
// quarantined in the lost-update ledger. Write reports it with a
// *FencedError (ErrFenced) naming the ledger entries, for Sync and Async
// alike; the call's other writes were applied.
//
// # The live RPO
//
// Lag reports, for each peer: the RPO, the age of the oldest change
// committed here that the peer does not durably hold (zero when it holds them
// all); the changes and bytes it has not applied; when it last answered
// (heartbeats check idle links, so a dead idle link shows); and the position
// it has applied through. For an asynchronous peer the RPO comes from the
// local changelog after the peer's watermark (Store.Backlog, which counts
// changes an open transaction still hides from shippers). For a synchronous
// peer it comes from the stores too: the age of the oldest change committed
// here that the peer has neither applied nor staged (Stager.Holding), so it
// holds after a restart and counts the writes of every process of the
// region; the writes this replicator has in flight are left out until they
// are answered. A peer that does not answer within a heartbeat is taken to
// lack everything it has not applied. Either way the RPO may overstate,
// never understate.
// NewLagCollector exports the same figures to Prometheus, with the
// synchronous write latency histogram of Metrics.
//
// # Three regions or more: CatchUp
//
// Each region ships only the writes it made, so that no write echoes
// between regions. With three regions or more that leaves a hole when one
// dies: a write it had shipped (or, under Quorum below the number of
// peers, staged) to some survivors but not to others would stay in those
// alone. Every change keeps its place in its origin's changelog
// (xregion.Change.OriginPos), so survivors can close the hole: once a
// region is declared gone, CatchUp has each survivor resolve its staged
// writes, names the survivor with the highest watermark for the dead
// region (the one to promote), and has it Forward what each other one
// lacks, with the dead region's own positions, so watermarks move as if
// the dead region had shipped, and nothing is applied twice even if it
// comes back and ships alongside. ForwardLag is a survivor's lag in the
// dead region's writes, non-zero until the catch-up ends.
//
//	det, _ := health.NewDetector("a", probe, health.WithTransition(func(t health.Transition) {
//		if !t.Up {
//			rep, err := replicate.CatchUp(ctx, "a", []xregion.Store{b, c})
//			// promote rep.MostComplete
//		}
//	}))
//
// # Retention
//
// WithRetention runs retention on the local store every Retention.Every
// (Retain runs it once, for a caller that schedules it), so that what the
// store keeps stays bounded. The store removes (xregion.Retainer); the
// replicator decides what may go, because what may go depends on what the
// peers hold, which only they can say:
//
//   - The local region's changes go once every peer has applied them: its
//     watermark for this region, asked of the peer, or as the replicator
//     last saw it when the peer does not answer.
//   - A peer that stays dark keeps the changes it has not applied, up to
//     Retention.MaxUnconfirmed bytes of keys and values. Past it the oldest
//     go anyway: an AlertTruncated names the peer (and
//     xregion_retention_truncated_unapplied_total counts it), and shipping
//     to it fails with an *xregion.TruncatedError, which its Lag shows,
//     until a resync (package resync, which finds the cut, compares by
//     digests, and moves the peer's watermark past it) brings it back. The
//     limit is in bytes because bytes are what runs out, and because it is
//     the unit of PendingBytes, so the metric shows a dark peer nearing it,
//     as PostgreSQL's max_slot_wal_keep_size bounds what a replication
//     slot holds back: a count of changes lets large values through, and
//     an age lets a burst of writes through and says nothing of the disk.
//     A peer not heard from since the replicator started is taken to lack
//     everything that is kept.
//   - Changes applied from peers stay for Retention.PeerChangesFor: no
//     shipper reads them (each region ships the writes it made), but
//     Forward and CatchUp do, when a region is lost, to bring the other
//     survivors what they lack of its writes. A survivor can forward only
//     what it still holds: where retention removed writes another one
//     lacks, Forward fails with an *xregion.TruncatedError, and a resync
//     must bring that one up to date. Keep them for longer than a
//     survivor may lag behind a peer that dies.
//   - Staged writes go once applying them would change nothing (the
//     changelog stream or a resync applied them, or something newer
//     superseded them), and withdrawals after Retention.TombstoneHorizon.
//   - Tombstones go once no older write of their key can still arrive
//     anywhere, and the horizon has passed (HAZARD below).
//   - Ledger entries go after Retention.LedgerFor, or sooner once every
//     reader acknowledged them (xregion.Retainer.AckLostUpdates).
//
// Every step removes Retention.BatchSize rows per statement and runs again
// until fewer go, so no statement holds locks for long; where the local
// store is an xregion.Leaser, one process of the region runs retention at a
// time. Calls to peers wait a heartbeat (WithHeartbeat) at most. The Lag of
// a peer that lacks removed changes counts its RPO from the last change
// removed: it lacks at least that one, which Backlog no longer counts. That
// figure is a lower bound, the one exception to "never smaller than the
// truth": the peer may lack older ones too; its state is failing, with an
// error that says it needs a resync, which is what to act on.
//
// HAZARD: resurrection. A tombstone is what makes an older write of its
// key lose; collected too early, an older write that arrives afterwards
// finds nothing there, is stored, and the key comes back, in that region
// only. A horizon alone does not prevent it: a write can stay on its way
// for as long as its region is dark. So retention collects a tombstone only
// when every region has applied every change appended in each other region
// up to Retention.TombstoneHorizon after the tombstone's time: it asks each
// region for its watermark of each other one, and that region for the
// oldest change appended past it (Store.Backlog). A region that does not
// answer, or that lacks changes retention removed (its content is unknown
// until a resync), holds every collection back; tombstones of keys with
// staged writes stay too. What is left to the horizon: a write stamped
// before a tombstone that commits more than the horizon after it (a retry,
// long after, of a write whose outcome was unknown, or a clock that far
// behind), which no store can see coming. Choose TombstoneHorizon longer
// than any write may take from its stamp to its commit, retries included,
// and than clocks may drift apart; TestRetain_TombstoneResurrection shows
// the key coming back with a horizon alone and with a horizon too short,
// and staying deleted otherwise.
//
// HAZARD: every region must be a peer. Retention asks the local region and
// its peers; a region that writes these tables, or receives them, without
// being among the peers is not asked, and a tombstone may be collected
// while it still holds, or sends, an older write.
//
// # Hazards
//
// HAZARD: several writing processes. A Sync leaves out of its RPO only the
// writes it has in flight itself: another process's write, committed here
// and on its way to the peer, counts for the round trip it takes, so the
// Tier 1 RPO of a region written by several processes shows milliseconds,
// and an alert on any RPO above 0 fires now and then.
//
// HAZARD: Strict refuses writes while a required peer is unreachable; that
// is the price of RPO 0. WithQuorum(k) with more peers than k keeps writing
// through the loss of some.
//
// HAZARD: a write refused under Strict may have committed locally (the
// local commit and the staging race). It is not acknowledged, and it reaches
// the peers through the changelog stream later like any write.
//
// HAZARD: a region that takes over from a failed synchronous peer must run
// ApplyStaged first, or writes that were acknowledged stay in its inbox,
// invisible.
//
// HAZARD: a region whose changelog positions went back (its database
// restored from a logical dump onto another server, say; see store/pgstore)
// would ship nothing and report an RPO of 0 while its writes sorted behind
// the peers' watermarks. Its store refuses instead
// (xregion.ErrPositionsReset): the shipper stops, the link reports failing
// with that error and an RPO counted from the start of the changelog, and
// AlertPositionsReset is raised once. The way forward is an operator's:
// AdvancePositions with every peer's store, then a resync of the regions.
package replicate
