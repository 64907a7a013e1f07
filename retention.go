package xregion

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Retainer is an optional capability of a Store, found by type assertion: it
// removes what the store no longer needs to keep, so that the changelog, the
// lost-update ledger, the stage and the tombstones stay bounded.
//
// The store does the removing; the caller decides the bounds. What may go
// depends on what the other regions hold, which a store cannot see (what a
// peer confirmed of this store's changelog is that peer's watermark), so
// every method takes its bound as an argument, and package replicate, which
// reads the peers' watermarks, runs them (replicate.WithRetention,
// replicate.Retain).
//
// Each call removes at most limit rows (1 to MaxChangeLimit) in one short
// transaction, oldest first, and reports how many it removed: run it again
// until it reports fewer than limit. No call holds a lock on what writers
// touch for longer than it takes to remove limit rows.
type Retainer interface {
	// TruncateChanges removes the oldest changelog entries of t.Origin, in
	// changelog order, while they are at or before t.Through (unless it is
	// zero) and were appended (Change.Time) before t.Before (unless it is
	// zero); it stops at the first entry that is not, and after t.Limit.
	// Afterwards Changes from a position before the last entry removed
	// fails with a *TruncatedError (see Store.Changes), and Backlog counts
	// only the entries that are left. Errors: ErrInvalid.
	TruncateChanges(ctx context.Context, t Truncation) (int, error)

	// Truncated returns the position of the last entry of origin that
	// TruncateChanges removed, and when it was appended; zero if none was.
	Truncated(ctx context.Context, origin Region) (Position, time.Time, error)

	// CollectTombstones removes, from every table, up to limit tombstones
	// whose Version.Time is before before, leaving those of keys that have
	// writes waiting in the stage (see Stager): applying such a write to a
	// key without its tombstone could bring an older write back. Get of a
	// removed tombstone's key returns ErrNotFound. See the package doc of
	// replicate for the bound that makes this safe (HAZARD: resurrection).
	CollectTombstones(ctx context.Context, before Timestamp, limit int) (int, error)

	// TrimLedger removes the oldest lost-update ledger entries, in ID
	// order, while each was recorded (LostUpdate.At) before before (unless
	// it is zero) or acknowledged by every reader (AckLostUpdates); it stops
	// at the first entry that is neither, and after limit. A loss recorded
	// again after its entry was removed is a new entry.
	TrimLedger(ctx context.Context, before time.Time, limit int) (int, error)

	// AckLostUpdates records that reader has processed the ledger through
	// entry ID through, so that TrimLedger may remove those entries once
	// every reader that ever acknowledged has acknowledged them. A reader's
	// acknowledgement only moves forward, and stops at the last entry the
	// ledger holds. Errors: ErrInvalid for a reader name that is not a valid
	// Region name (the same characters) or a negative through.
	AckLostUpdates(ctx context.Context, reader string, through int64) error

	// SweepStage removes staged writes (see Stager) that applying would
	// change nothing with: their table already holds them or what
	// supersedes them, and a loss they would record is in the ledger
	// already. It also removes staged copies of withdrawn writes, and the
	// withdrawals recorded before before, which fence a copy staged after
	// them (so before must be earlier than any Stage can still arrive). At
	// most limit in all.
	SweepStage(ctx context.Context, before time.Time, limit int) (int, error)
}

// Truncation says which changelog entries Retainer.TruncateChanges removes.
type Truncation struct {
	// Origin is the region whose writes the entries carry (Change.Origin).
	Origin Region
	// Through, unless zero, keeps every entry after it.
	Through Position
	// Before, unless zero, keeps every entry appended at or after it, by
	// the store's clock (Change.Time).
	Before time.Time
	// Limit is the most entries to remove: 1 to MaxChangeLimit.
	Limit int
}

// Validate checks the truncation.
func (t Truncation) Validate() error {
	if err := t.Origin.Validate(); err != nil {
		return fmt.Errorf("truncation: %w", err)
	}
	if t.Through.IsZero() && t.Before.IsZero() {
		return invalid("truncation", "neither Through nor Before; say which entries may go")
	}
	return ValidateRetainLimit(t.Limit)
}

// ValidateRetainLimit checks the limit of a Retainer call: 1 to
// MaxChangeLimit.
func ValidateRetainLimit(limit int) error {
	if limit < 1 || limit > MaxChangeLimit {
		return invalid("retention limit", "%d; want 1 to %d", limit, MaxChangeLimit)
	}
	return nil
}

// ValidateReaderName checks the name of a ledger reader
// (Retainer.AckLostUpdates): the characters of a Region name.
func ValidateReaderName(reader string) error {
	if err := checkName(reader, true); err != "" {
		return invalid("ledger reader "+quote(reader), "%s", err)
	}
	return nil
}

// ErrTruncated is wrapped by *TruncatedError: a changelog read starts before
// entries that retention removed.
var ErrTruncated = errors.New("xregion: changelog truncated past the reader")

// TruncatedError reports a read of a changelog (Store.Changes) from a
// position before entries that Retainer.TruncateChanges removed: the reader
// would miss them. A peer whose watermark stands there can no longer be
// brought up to date from the changelog: a resync (package resync) must
// compare and copy what it lacks, and move its watermark past Through. It
// wraps ErrTruncated.
type TruncatedError struct {
	Region  Region    // whose changelog
	Origin  Region    // whose entries were removed
	After   Position  // where the read starts
	Through Position  // the last entry removed
	Time    time.Time // when that entry was appended, by the store's clock
	// OriginPos is the furthest place in Origin's changelog
	// (Change.OriginPos) of the entries removed: a read that keeps only
	// entries past a place there (ChangeQuery.OriginAfter) fails only if
	// it is before this one.
	OriginPos Position
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("xregion: changelog of %s no longer holds the changes of %s after %s: retention removed them through %s "+
		"(appended %s); a region that lacks them needs a resync (package resync) before it can be replicated to again",
		e.Region, e.Origin, e.After, e.Through, e.Time.UTC().Format(time.RFC3339))
}

// Unwrap returns ErrTruncated.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }
