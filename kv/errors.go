package kv

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/xregion/xregion"
)

// Sentinel errors. Callers branch on them with errors.Is; the structured
// errors below wrap them and carry the details. A key that holds nothing
// (never written, removed or expired) is xregion.ErrNotFound.
var (
	// ErrExists is returned by Table.Put with IfAbsent when the key holds a
	// live entry: one not removed and not expired.
	ErrExists = errors.New("kv: entry exists")

	// ErrConflict is wrapped by *ConflictError: the entry changed between
	// the read and the write that depended on it.
	ErrConflict = errors.New("kv: entry changed since it was read")

	// ErrBehind is wrapped by *BehindError: a checkpoint would move back.
	ErrBehind = errors.New("kv: checkpoint behind the saved one")

	// ErrNotKept is returned when a write was applied without error but the
	// store did not keep it: the table's resolver dropped it (a stale epoch
	// on a single-writer table: see the lost-update ledger), or the table is
	// no longer resolved by this Table's Resolver (DefineTable was called
	// again with another resolver), so its writes are not checked.
	ErrNotKept = errors.New("kv: write not kept")
)

// ConflictError reports a write refused because the key no longer held
// what the writer had read: another writer of the region got there first.
// It wraps ErrConflict. A Put without IfMatch reads again and retries, up
// to MaxAttempts times, before it returns one.
type ConflictError struct {
	Key   string          // the record key: namespace, '/', key
	Read  xregion.Version // what the writer read (zero: nothing)
	Found xregion.Version // what the key held when the write arrived
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("kv: %s changed since it was read: read %s, found %s", quote(e.Key), e.Read, e.Found)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// BehindError reports a checkpoint save that would move a job's position
// back. It wraps ErrBehind.
type BehindError struct {
	Job      string
	Saved    int64 // the position the store holds
	Position int64 // the position that was refused
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("kv: checkpoint of job %s at %d is behind the saved %d; Reset the job to start it over", quote(e.Job), e.Position, e.Saved)
}

// Unwrap returns ErrBehind.
func (e *BehindError) Unwrap() error { return ErrBehind }

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: what, Reason: fmt.Sprintf(format, args...)}
}

func corrupt(what string, off int, reason string) error {
	return &xregion.CorruptError{What: what, Offset: off, Reason: reason}
}

// quote prints a key from another region safely and briefly.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
