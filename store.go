package xregion

import (
	"context"
	"time"
)

// Store holds one region's records. Implementations: store/memstore (in
// memory, the embedded default and reference) and store/pgstore
// (PostgreSQL). store/storetest holds the contract every Store must pass.
//
// All methods are safe for concurrent use. Byte slices passed in are not
// retained; those returned belong to the caller.
type Store interface {
	// Region is the region whose records this store holds.
	Region() Region

	// DefineTable declares a table and the Resolver that settles its
	// writes, creating its storage if it does not exist. It is idempotent;
	// the resolver is held by this Store value, so each process declares its
	// tables at start-up. Errors: ErrInvalid for a bad name or a nil resolver.
	DefineTable(ctx context.Context, name string, r Resolver) error

	// Get returns the record stored under key. A deleted key returns its
	// tombstone (Tombstone set), whose Version a writer can use as Base.
	// Errors: ErrNotFound if the key was never written; ErrUnknownTable.
	Get(ctx context.Context, table, key string) (Record, error)

	// Apply resolves each write of the batch against the stored record with
	// its table's Resolver, in batch order, stores what changed, appends
	// each change to the changelog, records lost updates in the ledger and,
	// when the batch carries peer positions, moves that peer's watermark to
	// b.Through: all in one transaction, so a batch is applied entirely or
	// not at all.
	//
	// A batch whose Through is at or before the peer's watermark was applied
	// before: Apply does nothing and reports Result.Duplicate. A batch whose
	// After is not the watermark fails with a *WatermarkError. Errors:
	// ErrInvalid (checked before anything is written), ErrUnknownTable, a
	// Resolver's error, ErrWatermark, ErrTooLarge (nothing applied; smaller
	// batches may pass), ErrOutcomeUnknown, a *PositionsError when the
	// changelog holds positions beyond those it would issue now (see
	// ErrPositionsReset).
	Apply(ctx context.Context, b Batch) (Result, error)

	// Changes returns changelog entries after q.After in changelog order,
	// oldest first, at most q.Limit of them. It never returns a change while
	// a transaction that is still open could commit one ordered before it,
	// so a reader that resumes after the last change it read skips nothing.
	// A change may therefore become readable a little after its Apply
	// returned; changes of an Apply that returned before another began are
	// ordered before that one's.
	//
	// Where retention removed entries (Retainer.TruncateChanges) that the
	// query would have returned (of q.Origin, or of any origin when it is
	// zero, after q.After, and with an OriginPos after q.OriginAfter when
	// that is set), it fails with a *TruncatedError rather than return
	// what is left: the reader would skip them.
	//
	// A q.After that the changelog cannot have issued yet (at or beyond the
	// next position it would issue) is refused with a *PositionsError, as is
	// any read of a changelog that holds such positions: positions went back
	// (ErrPositionsReset), and what a reader resuming there found would skip
	// changes.
	Changes(ctx context.Context, q ChangeQuery) ([]Change, error)

	// Watermark returns the position in peer's changelog through which
	// batches from peer have been applied here; zero if none has.
	Watermark(ctx context.Context, peer Region) (Position, error)

	// Backlog describes the changes made in origin that lie after the
	// position after: what a peer whose watermark stands there has not
	// applied. Unlike Changes it counts every committed change, also those
	// a transaction still open keeps Changes from returning, so a lag
	// computed from it is never smaller than the truth. An after that the
	// changelog cannot have issued yet is refused with a *PositionsError,
	// as Changes refuses it: counted from there, the backlog would read
	// zero while changes wait.
	Backlog(ctx context.Context, after Position, origin Region) (Backlog, error)

	// LostUpdates returns lost-update ledger entries with ID above after,
	// oldest first, at most limit (1 to MaxChangeLimit) of them. IDs are
	// handed out in commit order, so a reader paging by ID skips nothing.
	// An entry is identified by table, key and the lost version: recording
	// the same loser again adds nothing.
	LostUpdates(ctx context.Context, after int64, limit int) ([]LostUpdate, error)
}

// Write is one record for one table.
type Write struct {
	Table  string
	Record Record
	// Pos is where the write stands in its origin's changelog (the region
	// of Record.Version) when it is shipped from a changelog, its own or,
	// forwarded, a survivor's copy of a dead region's; the store keeps it
	// as the change's OriginPos. Zero for writes that have no place there:
	// writes made here, and writes sent directly (staged, resynced).
	Pos Position
}

// Batch is a unit of Store.Apply.
type Batch struct {
	// From is the region the writes come from when a peer sends them, and
	// zero for writes made in this region.
	From Region
	// After and Through, when Through is not zero, place the batch in From's
	// changelog: it holds the changes in (After, Through]. The store's
	// watermark for From must stand at After, and moves to Through. Zero
	// for writes that are not read from a changelog (local writes, and
	// synchronous writes a peer sends directly), which are idempotent by
	// version instead.
	After, Through Position
	Writes         []Write
}

// Validate checks the batch shape and every record in it.
func (b Batch) Validate() error {
	if b.From != "" {
		if err := b.From.Validate(); err != nil {
			return err
		}
	}
	if !b.Through.IsZero() || !b.After.IsZero() {
		if b.From == "" {
			return invalid("batch", "changelog positions without From; say which region the changes come from")
		}
		if !b.After.Less(b.Through) {
			return invalid("batch", "After %s is not before Through %s", b.After, b.Through)
		}
	}
	for _, w := range b.Writes {
		if err := ValidateTableName(w.Table); err != nil {
			return err
		}
		if err := w.Record.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Backlog is what Store.Backlog reports.
type Backlog struct {
	Changes int64     // how many changes
	Bytes   int64     // their key and value bytes
	Oldest  time.Time // Change.Time of the oldest of them; zero if none
	Head    Position  // the last of them; zero if none
	Now     time.Time // the store's clock when it counted, the clock of Oldest
}

// Age is how long the oldest change has waited: zero when there is none.
func (b Backlog) Age() time.Duration {
	if b.Changes == 0 || b.Oldest.IsZero() {
		return 0
	}
	return max(b.Now.Sub(b.Oldest), 0)
}

// Stager is an optional capability of a Store, found by type assertion: it
// durably accepts a peer's writes in one round trip and resolves them later.
// The synchronous replicator acknowledges a write once its peers have staged
// it: the peer then holds it durably, as a synchronous standby holds flushed
// WAL, without the read-resolve-write round trips of Apply.
//
// Staged writes are not visible to Get. They leave the stage when Apply
// stores a batch from the same region carrying the same record (the
// changelog stream delivering it), when ApplyStaged resolves them, which a
// region must run before it takes over from a failed peer, or when their
// region withdraws them: a write whose local commit failed for certain must
// not become visible at a failover.
type Stager interface {
	// Stage durably records writes made in region from, unresolved.
	// Staging the same write twice is harmless. Errors, before anything is
	// staged: ErrInvalid (no from, or a write that fails Batch.Validate),
	// ErrUnknownTable (a table not declared with DefineTable, which Apply
	// would refuse when the write leaves the stage).
	Stage(ctx context.Context, from Region, writes []Write) error
	// Withdraw takes writes of region from off the stage for good: a copy
	// of one staged afterwards (a Stage still on its way when Withdraw ran)
	// never waits in the stage either. Withdrawing a write that was never
	// staged is harmless, and fences it all the same. Errors: ErrInvalid.
	Withdraw(ctx context.Context, from Region, writes []Write) error
	// Holding reports, for each write, whether it waits in the stage from
	// region from: staged, and neither resolved nor withdrawn since.
	Holding(ctx context.Context, from Region, writes []Write) ([]bool, error)
	// ApplyStaged resolves every staged write through its table's Resolver
	// as Apply would, in staging order, and removes it from the stage.
	ApplyStaged(ctx context.Context) (Result, error)
	// Staged reports how many writes wait in the stage.
	Staged(ctx context.Context) (int64, error)
}

// Result reports what Apply did.
type Result struct {
	Applied   int  // writes that changed a stored record
	Unchanged int  // writes the stored record won against, or already held
	Duplicate bool // the batch had been applied before; nothing was done
	// Lost holds the entries the batch added to the lost-update ledger, with
	// their IDs, in batch order: incoming writes that were not kept (lost to
	// a concurrent write, or fenced), and stored records an incoming write
	// displaced without having seen them. A loss already in the ledger is
	// not added again, nor listed.
	Lost []LostUpdate
}

// Conflicts is how many entries the batch added to the lost-update ledger.
func (r Result) Conflicts() int { return len(r.Lost) }

// Add accumulates o into r, for a caller applying several batches.
func (r *Result) Add(o Result) {
	r.Applied += o.Applied
	r.Unchanged += o.Unchanged
	r.Lost = append(r.Lost, o.Lost...)
}

// LostUpdate is an entry of the lost-update ledger: a write a store did not
// keep but must not forget. Either it was concurrent with another write of
// the same key (neither writer had seen the other's version) and lost to it,
// or it was fenced: written by a region that was no longer the key's home.
// Strategies that lose nothing (CRDTs) never produce one.
type LostUpdate struct {
	ID     int64      // the entry's place in this region's ledger
	Table  string     // the table
	Lost   Record     // the write that lost: its key, value, version and base
	Reason LossReason // why it was not kept
	Winner Version    // what the key held instead (zero if nothing)
	// Region is where the conflict was detected. Which regions see a given
	// conflict depends on the order writes reach them, so several regions
	// may record the same loser (deduplicate merged ledgers by table, key
	// and lost version); within one region an entry is recorded once.
	Region Region
	At     time.Time // when it was recorded, by the store's clock
}

// Leaser is an optional capability of a Store, found by type assertion:
// named leases that at most one holder in the region has at a time, across
// processes. Replicators take one per peer so that exactly one of several
// processes ships to it.
type Leaser interface {
	// TryLease takes the lease called name if nobody holds it, and reports
	// false if somebody does. A taken lease is held until Release, or until
	// the store can no longer vouch for it (its connection died), when Lost
	// is closed: the holder must stop at once, as another may take over.
	TryLease(ctx context.Context, name string) (Lease, bool, error)
}

// Lease is a lease taken with Leaser.TryLease.
type Lease interface {
	// Lost is closed when the lease is lost or released.
	Lost() <-chan struct{}
	// Release gives the lease up. It is safe to call more than once.
	Release()
}

// PositionAdvancer is an optional capability of a Store, found by type
// assertion: the way out of ErrPositionsReset. replicate.AdvancePositions
// calls it with the highest watermark the region's peers hold for it.
type PositionAdvancer interface {
	// AdvancePositions makes every position the changelog issues from now
	// on sort after past and after every position it holds or has issued,
	// and returns the first such position. It never moves positions back:
	// where they are past all that already, it changes nothing. Changes
	// recorded before the call keep their positions, so those that sort
	// before a peer's watermark never ship: only a resync of the regions
	// brings them over.
	AdvancePositions(ctx context.Context, past Position) (Position, error)
}
