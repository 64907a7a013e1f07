package kv

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Idempotency remembers the keys of requests or messages (idempotency
// keys, message ids) for a window, so that a service handles each once
// even when it is delivered or retried several times: first writer wins.
// Each key is an entry of its namespace with a TTL of the window, so it
// replicates, expires and is swept like any entry. An Idempotency is safe
// for concurrent use.
//
// What "once" covers depends on how the table replicates; see the package
// documentation, "Idempotency keys".
type Idempotency struct {
	t  *Table
	ns string
}

// NewIdempotency returns the idempotency keys of namespace ns of t. Errors:
// an *xregion.InvalidError for a nil t or a bad namespace.
func NewIdempotency(t *Table, ns string) (*Idempotency, error) {
	if t == nil {
		return nil, fmt.Errorf("kv: new idempotency: %w", invalid("table", "nil; make one with kv.New"))
	}
	if err := ValidateNamespace(ns); err != nil {
		return nil, fmt.Errorf("kv: new idempotency: %w", err)
	}
	return &Idempotency{t: t, ns: ns}, nil
}

// Seen reports whether key was recorded within the last window: false the
// first time, when it records key for window (from its write's HLC
// timestamp); true while that record lives. Of several calls with one key
// in one region, exactly one sees false, whatever processes they run in.
//
// An error means it is not known whether key was recorded: with one
// wrapping xregion.ErrOutcomeUnknown the record may have been written, and
// a second call may answer true for the caller's own record. Treat such an
// error as "seen" to handle a request at most once, or call Forget and
// retry to handle it at least once. Errors: an *xregion.InvalidError for a
// bad key or a window that is not positive; Table.Put's errors.
func (i *Idempotency) Seen(ctx context.Context, key string, window time.Duration) (bool, error) {
	if window <= 0 {
		return false, fmt.Errorf("kv: seen: %w", invalid("idempotency window", "%s; want a positive duration such as 24h", window))
	}
	_, err := i.t.Put(ctx, i.ns, key, nil, TTL(window), IfAbsent())
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrExists):
		return true, nil
	}
	return false, err
}

// Forget removes the record of key, so that the next Seen of it answers
// false: for a request whose handling failed and may be tried again.
// Errors as Table.Remove's.
func (i *Idempotency) Forget(ctx context.Context, key string) error {
	return i.t.Remove(ctx, i.ns, key)
}
