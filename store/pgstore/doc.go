// Package pgstore is the xregion.Store on PostgreSQL, through pgx/v5 and a
// pgxpool.Pool the caller owns.
//
//	pool, _ := pgxpool.New(ctx, "postgres://app@db.eu-west-1.internal/app")
//	store, err := pgstore.New(ctx, pool, "eu-west-1")
//	err = store.DefineTable(ctx, "payments", lwwResolver)
//	res, err := store.Apply(ctx, xregion.Batch{Writes: writes})
//
// # Layout
//
// Everything lives in one PostgreSQL schema (DefaultSchema, "xregion", or
// WithSchema): one table per declared xregion table, named as declared, plus
// the store's own tables, whose names start with '_' so no declared table can
// collide with them:
//
//	_meta          the region this schema belongs to; New refuses to open it
//	               for another region (xregion.ErrRegionMismatch)
//	_tables        the declared tables
//	_changelog     every change, ordered by (tx, idx): the writing
//	               transaction's 64-bit id and the change's place in it;
//	               indexed by (origin, tx, idx) too, as _changelog_origin
//	_changelog_spans  per origin, counts of ranges of the changelog that
//	               Backlog need not count again (see Reading the changelog)
//	_watermarks    per peer region, the changelog position applied through
//	_lost_updates  the lost-update ledger
//	_inbox         writes peers staged here (Stage), durable and not yet
//	               resolved
//	_withdrawn     writes withdrawn from the stage (Withdraw), which fence a
//	               copy staged later
//	_truncated     per origin, the last changelog entry retention removed
//	_ledger_readers  per ledger reader, the entry it acknowledged through
//	_positions     what ties changelog positions to the server's
//	               transaction ids: the shift added to them, how far they
//	               had come, the server's system identifier (see Positions
//	               across a restore)
//
// Set-up is idempotent and serialised by an advisory lock, so any number of
// processes may call New and DefineTable at start-up. Names are validated
// (xregion.ValidateTableName) and quoted; no caller string reaches SQL text.
//
// # Apply in two round trips
//
// Apply pipelines its statements: the first round trip sends BEGIN, locks
// the peer's watermark row and every existing key of the batch (FOR UPDATE,
// in key order, so concurrent batches cannot deadlock); the batch is then
// resolved in Go through each table's Resolver; the second round trip sends
// the writes (one UPDATE and one INSERT per table), the changelog rows, the
// ledger entries, the watermark update and COMMIT. Keys that did not exist
// cannot be locked: if a concurrent batch inserts one first, the INSERT
// fails with a unique violation and Apply runs the transaction again from
// the top.
//
// If the connection fails during the second round trip, the batch may or may
// not have committed; Apply then says so with xregion.ErrOutcomeUnknown.
// Sending the same batch again is safe. A batch the server refuses for its
// size (a limit of class 54, out of memory, an allocation past 1 GB) fails
// with xregion.ErrTooLarge: nothing was applied, and smaller batches may
// pass.
//
// # Reading the changelog
//
// Changes returns changes in (tx, idx) order, and only those written by
// transactions older than the oldest transaction still open. This is what
// makes it safe against the outbox trap (a transaction that took an earlier
// place committing after a later one was read): every transaction still to
// commit has a larger id, so it sorts after everything already returned.
//
// HAZARD: one transaction left open anywhere on the server holds back
// Changes, in every database, until it ends: pg_snapshot_xmin is the
// oldest transaction id still running on the whole server. Any
// transaction that has a transaction id holds it: one that wrote anything,
// locked a row (SELECT ... FOR UPDATE), or called pg_current_xact_id, in
// any database, then sat idle; a long COPY or index build; a prepared
// transaction (PREPARE TRANSACTION) that nobody committed, which survives
// restarts and no timeout ends. A transaction that only reads does not.
// While it is held, shippers ship nothing newer and every peer's RPO
// grows: the lag shows it (Backlog counts what Changes holds back), and
// Horizon and HorizonCollector show the horizon itself, its age
// (xregion_changelog_horizon_age_seconds: how long the transaction holding
// it has been open) and the backend holding it, to end with
// pg_terminate_backend. Set idle_in_transaction_session_timeout (and on
// PostgreSQL 17 transaction_timeout), keep other applications' long
// transactions off the server that holds the store, and alert on the age
// well below the RPO target. The role the store connects as sees other
// roles' transactions only with pg_read_all_stats (or pg_monitor);
// without it, the age is counted from when a collector first saw the
// horizon held.
//
// The replicators' reads name an origin: a shipper reads its own region's
// changes, a lag tracker counts them. Those reads go through the index
// _changelog_origin on (origin, tx, idx), where a page of one origin's
// changes after a position is one range, however many changes of other
// origins lie between them: a region that mostly receives finds its few
// own changes as fast as one that mostly writes. The queries are shaped so
// that no plan can prefer the primary key (see Changes and Backlog).
//
// Backlog counts what a peer lacks, which for a peer dark for days is most
// of the changelog. It keeps spans: per origin, the count, bytes, oldest
// time and last position of the changes in a range of transaction ids
// that are all older than every transaction open when the span was cut,
// so that no change can join them. A call adds up the spans after its
// position and counts directly only what lies in the gaps between them;
// a call that counted many changes directly cuts spans over them, in a
// transaction of its own, for the calls after it. The counts stay exact;
// once spans are cut, a call reads a few thousand changes at most, and
// one row per thousand changes after its position. Measured with
// bench/reads: see bench/RESULTS.md.
//
// HAZARD: New builds _changelog_origin on a changelog made before it
// existed, in its set-up transaction, and Apply waits while it does: 1.2
// to 1.8 s per million changes on the machine of bench/RESULTS.md. To
// spare the writers the wait, build the index before the upgrade, while
// the old version runs:
//
//	CREATE INDEX CONCURRENTLY _changelog_origin ON xregion._changelog (origin, tx, idx);
//
// New then finds it and builds nothing. A concurrent build that failed
// leaves an invalid index, which New drops and builds again. New does not
// build it CONCURRENTLY itself: that cannot run in a transaction, waits
// for every transaction open in the database (one left open would hold
// start-up until it ended), and leaves an invalid index when it fails.
//
// HAZARD: a span counts the changes that were there when it was cut.
// Whatever deletes changelog rows must delete the spans that reach into
// them, or Backlog from a position before them counts them still: more
// than the truth, never less. TruncateChanges (see Retention) does, under
// the lock that cutting spans takes.
//
// # Positions across a restore
//
// A position's Tx is the id of the transaction that wrote the change plus
// the changelog's shift, zero until AdvancePositions raises it. Positions
// only grow as long as the server's transaction ids do: on the same
// cluster, across restarts, crash recovery and pg_upgrade (which keeps the
// counter), and on a standby promoted after it replayed everything. They
// go back when the database moves to a server whose ids are behind the old
// one's: a logical restore (pg_dump, pg_restore) onto another cluster, a
// major upgrade by dump and restore or logical replication, a
// point-in-time recovery to an earlier moment, a standby promoted before it
// had replayed all its primary shipped. New changes would then take
// positions below those the peers have applied, and a shipper resuming
// from a peer's watermark would skip them, with a backlog of zero: shipping
// stops without a word and the RPO reads 0.
//
// So the store refuses positions it cannot have issued yet, at or beyond
// the next it would issue now (the server's next transaction id plus the
// shift), with a *xregion.PositionsError (xregion.ErrPositionsReset) that
// says what happened, comparing the server's system identifier with the
// one recorded when the changelog was last healthy, and what to do:
//
//   - New checks the changelog itself: a store restored onto a server that
//     has counted fewer transactions holds positions beyond the next one.
//     It opens for reading (Get, digests, resync's reads), and Apply
//     refuses, so that no change is written at a position that would never
//     ship.
//   - Changes refuses an After beyond the next position, and any read of a
//     changelog that holds one; Backlog refuses an after beyond it. A
//     shipper resuming from a peer's watermark is refused there, whatever
//     New saw, and the replicators report the link failing with the error,
//     raise an alert and count the RPO from the start of the changelog.
//
// The way forward is an operator's: AdvancePositions (or
// replicate.AdvancePositions, which reads the peers' watermarks) raises the
// shift, under a lock of the changelog, so that every position issued
// from then on sorts after the highest watermark the peers hold and after
// everything the changelog holds; the peers' watermarks stay as they are,
// and shipping resumes. Then run a resync between the regions
// (resync.Run with resync.WithDigestsOnly): it brings the restored region
// what it lost since the dump and the peers hold, and the peers whatever
// the restored region wrote before the advance, whose positions lie behind
// their watermarks.
//
// HAZARD: a restore is seen only while the new server's ids are behind the
// positions: New sees a changelog that holds some beyond them, a shipper a
// watermark beyond them. A fresh cluster starts near 700, far below any
// server that has run a while, but after a point-in-time recovery or a
// promoted standby the server may catch up with the peers' watermarks in
// minutes; start the replicators with the application, or a write made
// before they look and after the ids pass the watermark is never shipped.
//
// # Bulk writes
//
// New rows can also go in with COPY, which PostgreSQL logs per page rather
// than per row: for thousands of rows it takes half the server time of the
// INSERT, but it costs a round trip of its own. Apply times its first round
// trip and copies a table's new rows (or the changelog's) only where the
// time saved, about 4 µs a row, exceeds that: a peer catching up on a near
// database copies, a batch sent across a long link, and every small batch,
// stays in the two round trips. Updates always stay there.
//
// Small batches, the single writes of a synchronous writer above all, go as
// a list of VALUES rows: the server reads those in microseconds, where
// unnest of a dozen arrays costs it about 40 µs however few rows they hold.
// Larger ones go as one array per column through unnest.
//
// HAZARD: each row count up to that limit is a statement of its own, and
// pgx prepares every statement once per connection, keeping 512 by default
// (StatementCacheCapacity); a statement it evicted costs a round trip to
// prepare again. A store uses about 15 statements per declared table (18
// once it is read as a Digester) and 30 of its own, so past 25 tables
// raise the pool's ConnConfig.StatementCacheCapacity.
//
// # Digests
//
// The store is an xregion.Digester. Each data table has two generated
// columns that PostgreSQL computes as it writes a row, khash (the key's
// xregion.KeyHash, top bit flipped so that bigint order is the hash's
// order) and rhash (the row's xregion.RowHash), and an index on khash that
// includes rhash. A range's digest is a count and an XOR over a slice of
// that index, read without touching the table: 1,000,000 records in 1,024
// ranges take about 70 ms, less than a sequential count(*). Without
// rhash in the index, the same read fetches every row from the table and
// takes seconds.
//
// The write path pays for them: hashtextextended once for the key and once
// for the row's text, which holds the value in hexadecimal, and an index
// entry per written row. The hashes cost little: over 1,000,000 keys like
// "customer-1-123", hashtextextended takes 0.01 µs a call on PostgreSQL 15,
// and the row's text with a 100-byte value about 0.25 µs to build and
// hash, where md5 took 0.7 µs a call, three per inserted row (the key, the
// value, the row's text), and 2 µs a row in all. The index costs more:
// since every write changes rhash, which the index holds, no update is HOT
// any more: each adds entries to both indexes, which VACUUM clears later.
// Measured with BenchmarkStore_Apply on two cores shared by client and
// server, Apply inserts 74–83k records a second, against 80–84k without
// the hash columns and 57–58k with md5, and updates 58k a second.
//
// HAZARD: the hashes are taken over the bytes PostgreSQL stores. In a
// database whose encoding is not UTF8 (or SQL_ASCII), a key outside ASCII
// is stored, and hashed, as other bytes than Go hashes, and every digest
// that holds one differs from the other regions' digests.
//
// HAZARD: DefineTable adds the columns and the index to a table created
// before them, and drops and adds them again where they were computed
// with md5 (before KeyHash and RowHash were hashtextextended), which
// rewrites the table and builds the index while it holds it locked: reads
// and writes of the table wait until it is done. Later calls find them in
// the catalog and lock nothing. Every region must run the same definition:
// a region whose hashes are md5 differs from the others in every range.
//
// Index-only scans read the table's pages that VACUUM has not marked
// all-visible since they were written; autovacuum keeps these few.
//
// Coarse ranges do not need the index: every table has a sums table
// ("_sums_" and its name) that holds, per bucket of 2⁵⁴ key hashes (1,024
// buckets), the count and XOR of the bucket's records, kept by statement
// triggers on the table (with transition tables) that append, in the
// writing transaction, one delta row per bucket a statement changed. A
// range made of whole buckets (AllKeys.Split into a power of two up to
// 1,024, as resync's first pass and its verification ask) is summed from
// the sums: a read of a few thousand rows, not of the index, whatever the
// size of the table (1,000,000 records: 3 to 20 ms against 150 to 340 ms).
// Appending keeps writers from waiting on each other's buckets, and the
// deltas are folded into a row per bucket when a read meets more than
// 8,192 of them, and by every CollectTombstones (retention). The triggers
// fire ALWAYS, so rows written with session_replication_role = replica
// (logical replication, a restore that disables triggers) are counted too,
// as are TRUNCATE and writes from outside the store.
//
// The write path pays a delta row per statement and bucket (for a batch,
// about one per record) and the trigger's call per statement, tens of
// microseconds. BenchmarkStore_Apply (batches of 1,000, two runs of each
// build, interleaved) could not tell them apart from the machine's noise:
// inserts 67–71k records a second against 65–67k before, updates 47–50k
// against 48–50k, peer batches 68–71k against 70–74k, four writers
// 64–84k against 80–91k.
//
// HAZARD: DefineTable creates the triggers on a table that lacks them and
// sums the table as it is, holding it locked against writes meanwhile (a
// pass over its index: about a second per 1,000,000 records). Later calls
// find them in the catalog and lock nothing.
//
// # Retention
//
// The store is an xregion.Retainer: package replicate decides what may go
// and the store removes it, each call one statement (or a few) that deletes
// at most its limit of rows, found through an index, so that no call holds
// locks for long:
//
//   - TruncateChanges takes the origin's first entries from the origin
//     index and deletes them by ctid, stopping at the first entry that is
//     not old enough, and in the same statement moves the origin's mark in
//     _truncated and deletes the Backlog spans that counted them. Changes reads the marks after its query, in its
//     transaction and round trip, and fails with *xregion.TruncatedError
//     where a mark lies after the position it reads from.
//   - CollectTombstones deletes through a partial index of each declared
//     table, on (wall, logical) WHERE tombstone, which DefineTable creates
//     (see the HAZARD on DefineTable above: on a table made before it, the
//     first DefineTable builds it while it holds the table). It holds
//     tombstones only, so writes that are not deletes do not pay for it.
//     A delete that races an Apply of the same key finds the row updated
//     and leaves it.
//   - TrimLedger deletes from the head of the ledger's primary key.
//   - SweepStage reads the inbox in pages by id, resolves each staged
//     write in Go against its table's record (the resolvers of the tables
//     declared in this process), and deletes those that would change
//     nothing; withdrawals are deleted by age with a scan of _withdrawn,
//     which holds only the writes whose local commit failed.
//
// # Leases
//
// TryLease holds a session advisory lock on a connection of its own.
//
// HAZARD: a holder whose host dies without closing its connection keeps the
// lock until PostgreSQL notices the connection is dead, which with the
// kernel's TCP keepalive defaults takes hours. Set the server's
// tcp_keepalives_idle (and interval, count) or a client_connection_check_interval
// low enough for the failover time you need.
//
// The lost-update ledger is written rarely, so its ids are simply handed out
// in commit order: transactions that record a lost update take an advisory
// lock from that point to COMMIT.
package pgstore
