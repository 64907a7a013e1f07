package xregion

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers branch on them with errors.Is; the structured
// errors below wrap them and carry the details.
var (
	// ErrNotFound is returned by Store.Get when a key has never been written
	// in a table. A deleted key is not "not found": Get returns its tombstone.
	ErrNotFound = errors.New("xregion: record not found")

	// ErrUnknownTable is returned when an operation names a table that was not
	// declared with Store.DefineTable in this process.
	ErrUnknownTable = errors.New("xregion: unknown table")

	// ErrInvalid is wrapped by every error about bad input: an invalid region,
	// table name, record or batch. Such an error is never worth retrying.
	ErrInvalid = errors.New("xregion: invalid input")

	// ErrCorrupt is wrapped by every decoding error: bytes that claim to be an
	// xregion encoding but are truncated, oversized or otherwise malformed.
	ErrCorrupt = errors.New("xregion: corrupt encoding")

	// ErrClockOffset is wrapped by *ClockOffsetError: a timestamp from another
	// region is further ahead of the local wall clock than the maximum offset.
	ErrClockOffset = errors.New("xregion: remote clock beyond maximum offset")

	// ErrWatermark is wrapped by *WatermarkError: a batch from a peer does not
	// start where the store's watermark for that peer stands.
	ErrWatermark = errors.New("xregion: batch does not continue the peer watermark")

	// ErrOutcomeUnknown is wrapped by errors from Store.Apply when the
	// connection failed after the commit may have reached the server: the
	// batch may or may not have been applied. It is neither lost nor safe.
	// Sending the same batch again is safe: watermarks make a peer batch
	// apply once, and versions make a repeated write a no-op.
	ErrOutcomeUnknown = errors.New("xregion: outcome unknown: the batch may or may not have been applied")

	// ErrRegionMismatch is returned when a store is opened for one region on
	// storage that already belongs to another.
	ErrRegionMismatch = errors.New("xregion: storage belongs to another region")

	// ErrTooLarge is wrapped by errors from Store.Apply and Stager.Stage
	// when the server refuses a batch for its size: nothing was applied, and
	// the same writes in smaller batches may succeed.
	ErrTooLarge = errors.New("xregion: batch too large for the server")
)

// ErrPositionsReset is wrapped by *PositionsError: a store's changelog
// positions went back, as they do when its database is restored onto
// another server. Changes it recorded now would sort before positions its
// peers have already applied, and a shipper resuming from a peer's
// watermark would skip them without a word, reporting an RPO of zero.
// Stores refuse to read or write such a changelog instead; the way
// forward is PositionAdvancer, then a resync of the regions.
var ErrPositionsReset = errors.New("xregion: changelog positions went back")

// InvalidError describes bad input: what was wrong and what would be right.
// It wraps ErrInvalid.
type InvalidError struct {
	What   string // the thing that was checked, e.g. `table "Orders"`
	Reason string // why it was refused and what is accepted
}

func (e *InvalidError) Error() string { return "xregion: invalid " + e.What + ": " + e.Reason }

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(what, format string, args ...any) error {
	return &InvalidError{What: what, Reason: fmt.Sprintf(format, args...)}
}

// CorruptError describes bytes that could not be decoded. It wraps ErrCorrupt.
type CorruptError struct {
	What   string // what was being decoded, e.g. "record"
	Offset int    // the byte offset where decoding failed
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("xregion: corrupt %s at byte %d: %s", e.What, e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// ClockOffsetError reports a remote timestamp too far ahead of the local wall
// clock. It wraps ErrClockOffset.
type ClockOffsetError struct {
	Remote    Timestamp     // the timestamp that was refused
	LocalWall time.Time     // the local wall clock when it was refused
	MaxOffset time.Duration // the configured maximum offset
}

// Ahead is how far the remote timestamp is ahead of the local wall clock.
func (e *ClockOffsetError) Ahead() time.Duration {
	return time.Duration(e.Remote.WallTime - e.LocalWall.UnixNano())
}

func (e *ClockOffsetError) Error() string {
	return fmt.Sprintf("xregion: remote timestamp %s is %s ahead of the local clock, more than the maximum offset %s",
		e.Remote, e.Ahead(), e.MaxOffset)
}

// Unwrap returns ErrClockOffset.
func (e *ClockOffsetError) Unwrap() error { return ErrClockOffset }

// WatermarkError reports a batch from a peer that does not continue the
// store's watermark for that peer: applying it would skip changes (Have is
// before After) or apply some twice (Have is between After and Through).
// The sender should read the watermark again and resend from there.
// It wraps ErrWatermark.
type WatermarkError struct {
	Peer    Region
	Have    Position // the store's watermark for Peer
	After   Position // where the refused batch starts (exclusive)
	Through Position // where it ends (inclusive)
}

func (e *WatermarkError) Error() string {
	return fmt.Sprintf("xregion: batch from %s covers (%s, %s] but the watermark stands at %s",
		e.Peer, e.After, e.Through, e.Have)
}

// Unwrap returns ErrWatermark.
func (e *WatermarkError) Unwrap() error { return ErrWatermark }

// PositionsError reports a changelog whose positions went back: a position
// it cannot have issued yet, because it lies at or beyond the next one it
// would issue. It wraps ErrPositionsReset.
type PositionsError struct {
	Region Region   // whose changelog
	Beyond Position // the position that cannot have been issued yet
	Next   Position // the first position the changelog would issue now
	// Held is true when the changelog itself holds Beyond (its rows came
	// from a server that had counted further), false when a caller gave
	// it: the After of a read, which a shipper takes from a peer's
	// watermark.
	Held bool
	// Reason is what the store can tell of the cause, and the way forward.
	Reason string
}

func (e *PositionsError) Error() string {
	what := "a peer's watermark (the position read after) is"
	if e.Held {
		what = "its changelog holds"
	}
	msg := fmt.Sprintf("xregion: changelog positions of region %s went back: %s %s, at or beyond %s, the next position the changelog would issue, so changes recorded now would sort before it and never ship",
		e.Region, what, e.Beyond, e.Next)
	if e.Reason != "" {
		msg += ". " + e.Reason
	}
	return msg
}

// Unwrap returns ErrPositionsReset.
func (e *PositionsError) Unwrap() error { return ErrPositionsReset }
