package crdt

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/xregion/xregion"
)

// Sentinel errors. Callers branch on them with errors.Is; the structured
// errors below wrap them and carry the details. Bad arguments (an invalid
// region, an element that is too long) are *xregion.InvalidError, and bytes
// that do not decode are *xregion.CorruptError.
var (
	// ErrScale is wrapped by *ScaleError: a decimal amount has more decimal
	// places than its counter's scale, so storing it would round it.
	ErrScale = errors.New("crdt: amount has more decimal places than the counter's scale")

	// ErrOverflow is wrapped by *OverflowError: an amount, or the sum it
	// would produce, is beyond the counter's limit.
	ErrOverflow = errors.New("crdt: beyond the counter's limit")

	// ErrInsufficientRights is wrapped by *InsufficientRightsError: a region
	// tried to decrement a BoundedCounter, or transfer rights, beyond the
	// rights it holds.
	ErrInsufficientRights = errors.New("crdt: not enough rights in this region")

	// ErrTypeMismatch is wrapped by *TypeMismatchError: two states of
	// different CRDT types (or counters declared with different limits) were
	// to be merged.
	ErrTypeMismatch = errors.New("crdt: different CRDT types")

	// ErrStaleWrite is wrapped by *StaleWriteError: a local write was stamped
	// before the version the key already holds from another region. See
	// Resolver.
	ErrStaleWrite = errors.New("crdt: local write stamped before the stored version")
)

// ScaleError reports a decimal amount with more decimal places than its
// PNCounter's scale. Nothing is rounded: the amount is refused. It wraps
// ErrScale and xregion.ErrInvalid.
type ScaleError struct {
	Amount string // the amount as given
	Places int    // its decimal places (trailing zeros not counted)
	Scale  int    // the counter's scale
}

func (e *ScaleError) Error() string {
	return fmt.Sprintf("crdt: amount %s has %d decimal places; the counter's scale is %d", e.Amount, e.Places, e.Scale)
}

// Unwrap returns ErrScale and xregion.ErrInvalid.
func (e *ScaleError) Unwrap() []error { return []error{ErrScale, xregion.ErrInvalid} }

// OverflowError reports an amount or a sum beyond a counter's limit. It wraps
// ErrOverflow.
type OverflowError struct {
	What  string // what would overflow, e.g. "pncounter value"
	Value string // the value it would take, or the amount refused
	Limit string // the largest magnitude allowed
}

func (e *OverflowError) Error() string {
	return fmt.Sprintf("crdt: %s %s is beyond the limit %s", e.What, e.Value, e.Limit)
}

// Unwrap returns ErrOverflow.
func (e *OverflowError) Unwrap() error { return ErrOverflow }

// InsufficientRightsError reports a BoundedCounter decrement or transfer
// beyond the rights of the region that attempted it. Rights arrive with
// increments made in the region and with transfers from other regions. It
// wraps ErrInsufficientRights.
type InsufficientRightsError struct {
	Region xregion.Region // the region that attempted it
	Rights uint64         // the rights it holds
	Want   uint64         // the amount it attempted
	Op     string         // "decrement" or "transfer"
}

func (e *InsufficientRightsError) Error() string {
	return fmt.Sprintf("crdt: %s of %d in region %s refused: the region holds %d rights", e.Op, e.Want, e.Region, e.Rights)
}

// Unwrap returns ErrInsufficientRights.
func (e *InsufficientRightsError) Unwrap() error { return ErrInsufficientRights }

// TypeMismatchError reports two states that cannot be merged: different CRDT
// types, or PN counters declared with different scale or precision. It wraps
// ErrTypeMismatch.
type TypeMismatchError struct {
	Local, Incoming string // the kinds, e.g. "orset" or "pncounter(18,2)"
}

func (e *TypeMismatchError) Error() string {
	return fmt.Sprintf("crdt: cannot merge %s into %s", e.Incoming, e.Local)
}

// Unwrap returns ErrTypeMismatch.
func (e *TypeMismatchError) Unwrap() error { return ErrTypeMismatch }

// StaleWriteError reports a local write stamped before the version the key
// holds from another region. Merged, the key would keep the other region's
// version, and the region's shipper, which ships the writes its region
// originated, would never send this write's contribution to the peers. Fold
// Stored into the clock (Clock.Update) and stamp the write again; Write does
// this for a base it is given. It wraps ErrStaleWrite.
type StaleWriteError struct {
	Key    string
	Write  xregion.Version // the refused write's version
	Stored xregion.Version // the version the key holds
}

func (e *StaleWriteError) Error() string {
	return fmt.Sprintf("crdt: key %s: local write %s is stamped before the stored version %s; fold the stored version into the clock and stamp it again",
		quote(e.Key), e.Write, e.Stored)
}

// Unwrap returns ErrStaleWrite.
func (e *StaleWriteError) Unwrap() error { return ErrStaleWrite }

// IsRetryable reports whether the operation that returned err can succeed
// if simply tried again: true for a *StaleWriteError (stamp the write again
// after folding the stored version into the clock). Scale, overflow,
// rights, type and corruption errors stay what they are until something
// else changes.
func IsRetryable(err error) bool { return errors.Is(err, ErrStaleWrite) }

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: what, Reason: fmt.Sprintf(format, args...)}
}

// quote prints a key or element from untrusted input safely and briefly.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
