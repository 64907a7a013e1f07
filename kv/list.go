package kv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xregion/xregion"
)

// MaxListLimit is the most entries one List call returns.
const MaxListLimit = 10_000

// ListQuery selects the entries of a namespace that List returns.
type ListQuery struct {
	// Prefix keeps the keys that start with it; "" keeps every key.
	Prefix string
	// After keeps the keys that sort after it (bytewise): pass the last
	// key of a page to read the next. "" starts at the first key.
	After string
	// Limit is the most entries to return: 1 to MaxListLimit.
	Limit int
}

func (q ListQuery) validate() error {
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return invalid("list query", "limit %d; want 1 to %d", q.Limit, MaxListLimit)
	}
	for _, s := range []string{q.Prefix, q.After} {
		if len(s) > MaxKeyLen {
			return invalid("list query "+quote(s), "%d bytes; keys are at most %d", len(s), MaxKeyLen)
		}
	}
	return nil
}

// List returns the live entries of namespace ns whose keys start with
// q.Prefix and sort after q.After, in key order, at most q.Limit of them;
// fewer than q.Limit means there are no more.
//
// Cost: the Store interface has no ordered scan, so List enumerates every
// key of the table (all namespaces) through the store's xregion.Digester,
// one KeyDigests call per up to xregion.MaxChangeLimit keys, and then reads
// the values of the matching keys only, in key order, until the page is
// full. The key scan is O(table) on every call: a list of a namespace of
// ten keys in a table of a million costs about what a resync digest of
// the table costs. Keep tables that are listed often small, or give
// listed data a table of its own.
//
// Errors: an *xregion.InvalidError for a bad namespace or query; an
// error wrapping errors.ErrUnsupported when the store is not an
// xregion.Digester; an *xregion.CorruptError for a matching value that is
// not a kv entry; the store's errors.
func (t *Table) List(ctx context.Context, ns string, q ListQuery) ([]Entry, error) {
	if err := ValidateNamespace(ns); err != nil {
		return nil, fmt.Errorf("kv: list: %w", err)
	}
	if err := q.validate(); err != nil {
		return nil, fmt.Errorf("kv: list %s: %w", quote(ns), err)
	}
	d, err := t.digester()
	if err != nil {
		return nil, fmt.Errorf("kv: list %s: %w", quote(ns), err)
	}
	prefix := ns + Separator + q.Prefix
	after := ""
	if q.After != "" {
		after = ns + Separator + q.After
	}
	var keys []string
	err = t.scan(ctx, d, xregion.AllKeys, func(kds []xregion.KeyDigest) error {
		for _, kd := range kds {
			if strings.HasPrefix(kd.Key, prefix) && kd.Key > after {
				keys = append(keys, kd.Key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kv: list %s: %w", quote(ns), err)
	}
	slices.Sort(keys)

	now := t.clock.Now()
	var out []Entry
	for len(keys) > 0 && len(out) < q.Limit {
		page := keys[:min(len(keys), readBatch)]
		keys = keys[len(page):]
		recs, err := d.Records(ctx, t.name, page)
		if err != nil {
			return nil, fmt.Errorf("kv: list %s: %w", quote(ns), err)
		}
		for _, rec := range recs {
			s := stateOf(rec, now)
			if s.err != nil {
				return nil, fmt.Errorf("kv: list %s: %s: %w", quote(ns), quote(rec.Key), s.err)
			}
			if s.live && len(out) < q.Limit {
				out = append(out, s.entry)
			}
		}
	}
	return out, nil
}

// readBatch is how many records one Records call reads.
const readBatch = 256

// scanFanout is how many ranges a hash range that holds too many keys for
// one KeyDigests call is cut into.
const scanFanout = 16

func (t *Table) digester() (xregion.Digester, error) {
	d, ok := t.store.(xregion.Digester)
	if !ok {
		return nil, fmt.Errorf("store %T cannot enumerate keys (it is not an xregion.Digester, as memstore and pgstore are): %w", t.store, errors.ErrUnsupported)
	}
	return d, nil
}

// scan calls f with the key digests of every record of the table whose
// key hash lies in r, tombstones included, one KeyDigests answer at a time,
// cutting r into narrower ranges while one holds more than a store returns
// at once (which it refuses with ErrInvalid). f returning errStop ends the
// scan without an error.
func (t *Table) scan(ctx context.Context, d xregion.Digester, r xregion.KeyRange, f func([]xregion.KeyDigest) error) error {
	err := t.scanRange(ctx, d, r, f)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

var errStop = errors.New("stop the scan")

func (t *Table) scanRange(ctx context.Context, d xregion.Digester, r xregion.KeyRange, f func([]xregion.KeyDigest) error) error {
	kds, err := d.KeyDigests(ctx, t.name, []xregion.KeyRange{r})
	if errors.Is(err, xregion.ErrInvalid) && r.Lo < r.Hi {
		for _, sub := range r.Split(scanFanout) {
			if err := t.scanRange(ctx, d, sub, f); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	return f(kds)
}
