// Package kv is replicated key/value state with expiry, on any
// xregion.Store: the state an integration service keeps besides its
// business records (cached tokens, idempotency keys, the position of a
// batch job, small documents), which a region-scoped object store or cache
// loses with its region. An entry lives in a namespace under a key, may
// expire, and replicates to the other regions like any record, through
// the replicator of the table's tier.
//
//	inner, err := lww.New(clock)                 // the table's strategy
//	sync, err := replicate.NewSync(store, clock, peers, replicate.WithTier(replicate.Tier1))
//	state, err := kv.New(ctx, store, clock, "state", inner, kv.WithWriter(sync))
//
//	_, err = state.Put(ctx, "tokens", "partner-7", token, kv.TTL(50*time.Minute))
//	e, err := state.Get(ctx, "tokens", "partner-7") // xregion.ErrNotFound once expired
//	page, err := state.List(ctx, "tokens", kv.ListQuery{Prefix: "partner-", Limit: 100})
//
//	messages, err := kv.NewIdempotency(state, "messages")
//	if seen, err := messages.Seen(ctx, msg.ID, 24*time.Hour); err == nil && !seen {
//		// handle msg
//	}
//	jobs, err := kv.NewCheckpoints(state, "jobs")
//	err = jobs.Save(ctx, "nightly-export", lastItem)
//
// # The table
//
// A Table is one xregion table. Its operations are those of an object
// store: Put (store), Get (retrieve), Contains, Remove, List by key
// prefix, with an optional TTL per entry and conditional puts (IfAbsent,
// IfMatch on an Entry.Version, as an ETag). A record key is the namespace,
// Separator ("/") and the key: namespaces (what some object stores call
// partitions; in xregion a partition is something else, see package
// partition) are 1 to MaxNamespaceLen bytes without the separator, keys 1
// to MaxKeyLen bytes and may hold it, values up to MaxValueLen bytes. Bad
// names, lengths and options are refused with an *xregion.InvalidError
// (xregion.ErrInvalid) before anything is written: never worth retrying.
//
// The strategy is the caller's: New wraps the Resolver it is given (inner)
// in this package's Resolver and declares the table with it. Use
// last-write-wins (lww) for state any region may write; for a single
// writer per key, a partition.Guard around lww with WithFence(router.Stamp).
// A CRDT resolver does not fit: a kv value is an entry, not a CRDT state,
// and removals are tombstones, which CRDT tables refuse.
//
// The path of writes is the caller's too (WithWriter): a replicate.Sync
// for a Tier 1 table (a write returns once the peers hold it), a
// replicate.Async for Tier 2 (it returns once the local store holds it,
// and ships within the RPO), or, by default, Store.Apply on the Table's
// store, which a replicator running on that store ships at its next poll.
// Reads are always local: Get, Contains and List read the Table's store
// and nothing else.
//
// # Writes within a region
//
// Every write reads the key first and is conditional on what it read: the
// Table's Resolver refuses, inside the store's transaction, a write of
// this Table whose Base is no longer what the key holds (another writer of
// the region, in this process or another, got there first), and the
// writer reads again and retries, or, for IfAbsent and IfMatch, fails with
// ErrExists or a *ConflictError. So within one region, of several
// IfAbsent writers exactly one succeeds, an IfMatch loop loses no update,
// and no write replaces an entry its writer had not read (the lost-update
// ledger stays empty). The condition belongs to the write call, like the
// WHERE of an SQL UPDATE, not to the record: in other regions, and when
// the same record arrives any other way, the table's strategy alone
// decides, the same way everywhere. That is why every region's store
// (including a peer's store that this process applies changes to) should
// declare the table with a Resolver of its own: NewResolver.
//
// # Expiry
//
// An entry written at HLC timestamp t with TTL d expires at t + d, on the
// HLC's physical (wall) time; that instant travels in the entry's value,
// so every region holds the very same number (Entry.Expires). A region
// reads the entry as gone once its own HLC reading (Clock.Now) has reached
// the instant: Get returns xregion.ErrNotFound, Contains false, List leaves
// it out, and IfAbsent takes the key as absent. An HLC never goes back, so
// in a region an entry that is gone stays gone, whatever the wall clock
// does, until a new write.
//
// What agrees, then, is the expiry instant. What cannot agree is when
// each region reads past it: that is a reading of each region's own
// clock. Regions whose clocks are skewed by s (within the maximum offset,
// xregion.DefaultMaxOffset) disagree about an entry for at most s around
// its expiry: the region whose clock is ahead no longer returns it while
// the other still does, and once both clocks have passed the instant both
// agree that it is gone, for good. (TestExpiry_SkewedRegions and
// TestExpiry_Property check exactly this.)
//
// A write after the expiry is a new entry: it has its own version and its
// own expiry, computed from its own timestamp, and since it is written on
// what the key held (the expired entry), it conflicts with nothing.
// Writing before the expiry replaces the entry the same way: a Put without
// TTL makes an entry that never expires; there is no "touch" that extends
// an entry's life without writing it.
//
// Expired entries take space until Sweep removes them, in small batches
// and conditional on each being still the expired entry, by writing
// tombstones; the store's retention then collects the tombstones once
// every peer has applied them, as it collects every tombstone. Call Sweep
// on a schedule, in one region or in all.
//
// # Idempotency keys
//
// Idempotency.Seen answers false the first time it is asked about a key
// within a window, and records the key for the window; true while that
// record lives. What "the first time" covers depends on how the table
// replicates, and this package does not pretend otherwise:
//
//   - Within one region, on any table: exactly one of several concurrent
//     calls with a key sees false, whatever processes they run in (the
//     conditional write above).
//   - Across a failover, on a table written through replicate.Sync
//     (Tier 1, Strict): a key whose Seen returned false in a is held by b
//     (staged, then applied); once b has taken over (ApplyStaged), Seen
//     in b answers true. With replicate.Async, keys recorded in the last
//     RPO before the loss are lost with the region, and b may see them
//     again.
//   - Across regions that serve at the same time (active-active), on a
//     table any region writes (lww), replicated either way: it is per
//     region. Two regions asked about one key before either has received
//     the other's record both answer false; Sync does not help, as it
//     makes a write durable in the peer without checking anything there.
//     The records then meet, one wins everywhere, and the other goes to
//     the lost-update ledger, which is how such a duplicate is found
//     after the fact.
//   - Across regions on a single-writer table (partition.Guard and
//     WithFence): only a key's home region records it; any other region's
//     Seen fails with a *partition.NotHomeError naming the home, where the
//     call must go. That holds across regions, at the cost of a round trip
//     to the home and of waiting for a failover when the home is lost.
//
// # Checkpoints
//
// Checkpoints.Save keeps a job's last processed position; Load reads it
// where the job resumes. Within a region positions only move forward:
// Save refuses a position behind the saved one (*BehindError), and racing
// saves cannot move it back. Across regions the later save wins
// (last-write-wins on the HLC): a region that returns with a save it made
// while cut off, older than the one made since where the job resumed,
// loses, and its save is in the ledger.
//
// A job that checkpoints through replicate.Sync and resumes in another
// region after a failover processes again exactly the items its region
// had processed after its last acknowledged save, and none before it;
// through Async, also those of the saves in the last RPO. A checkpoint is
// not a lock: run a job in one region at a time (a single-writer table
// gives each job one home). examples/objectstore runs such a job, loses
// its region and counts what was processed twice.
//
// # Listing
//
// The Store interface has no ordered scan, so List and Sweep enumerate
// the table's keys through the store's xregion.Digester (memstore and
// pgstore are), one KeyDigests call per up to xregion.MaxChangeLimit keys,
// and read the values they need (List: matching keys in key order, until
// the page is full). Each call costs O(keys in the table), whatever the
// namespace or prefix: fine for thousands of entries, not for listing a
// few keys among millions on every request. A store that is not a
// Digester cannot list (errors.ErrUnsupported).
//
// # Guarantees
//
// Within a region, no write of a Table replaces an entry its writer had
// not read. Every region that holds the same records holds the same
// entries with the same expiry instants, and, once its clock has passed an
// instant, agrees with every other such region about which entries are
// gone. Values from other regions are untrusted: an entry or checkpoint
// that does not decode is refused with an *xregion.CorruptError, never a
// panic. Table, Resolver, Idempotency and Checkpoints are safe for
// concurrent use.
//
// # Hazards
//
// HAZARD: clock skew. For up to the skew between two regions' clocks
// around an entry's expiry, they disagree on whether it exists; and since
// an HLC may run ahead of real time by up to the maximum offset, an entry
// may live up to that much less (or, on the other side, more) than its TTL
// in real time, and may arrive already expired in a region whose clock is
// ahead. TTLs are for lifetimes well above the maximum offset (500 ms).
//
// HAZARD: one Table per table and Store value. New declares the table
// with the Table's Resolver; declaring it again (a second New, or
// DefineTable with another resolver) replaces that resolver, and the first
// Table's writes go unchecked: they fail with ErrNotKept rather than pass
// silently. Make one Table at start-up and share it.
//
// HAZARD: a sweep racing a write in another region. A write made in
// another region to a key after its entry expired, which has not arrived
// here when Sweep removes the entry, is concurrent with the sweep's
// tombstone, and the later one wins. The sweep grace (DefaultSweepGrace,
// an hour, more than the RPO targets of Tiers 1 to 3) is there for such a
// write to arrive first; should it lose all the same, it is in the
// lost-update ledger, not gone silently.
//
// HAZARD: an outcome unknown. A write whose error wraps
// xregion.ErrOutcomeUnknown may have been made. For Seen that means a
// second call may answer true to the caller's own record: treat the error
// as "seen" to handle a request at most once, or Forget and retry to
// handle it at least once.
//
// HAZARD: taking over. A region taking over from a lost peer whose Tier 1
// writes it held staged must run Stager.ApplyStaged before it reads, or
// it misses the last acknowledged entries and checkpoints (package
// replicate says the same of every table).
//
// HAZARD: tombstone retention. Once the store's retention has collected a
// tombstone, a write older than it that arrives later brings the entry
// back. Retention (replicate.WithRetention) waits until every region has
// applied everything written up to its horizon after the tombstone, so a
// dark region holds collection back; what is left to the horizon is a
// write that commits long after it was stamped (see replicate's HAZARD).
package kv
