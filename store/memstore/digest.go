package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/xregion/xregion"
)

var _ xregion.Digester = (*Store)(nil)

// Digests returns the digest of each range; see xregion.Digester. It hashes
// every record of the table on each call (xregion.Digest): memstore holds
// what fits in memory, where that is cheap enough.
func (s *Store) Digests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.RangeDigest, error) {
	if err := xregion.ValidateRanges(ranges); err != nil {
		return nil, fmt.Errorf("digests of %s: %w", table, err)
	}
	var records []xregion.Record
	err := s.scan(ctx, table, func(_ uint64, r xregion.Record) { records = append(records, r) })
	if err != nil {
		return nil, fmt.Errorf("digests of %s: %w", table, err)
	}
	return xregion.Digest(records, ranges), nil
}

// KeyDigests returns the key digests of the records in the ranges; see
// xregion.Digester.
func (s *Store) KeyDigests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.KeyDigest, error) {
	if err := xregion.ValidateRanges(ranges); err != nil {
		return nil, fmt.Errorf("key digests of %s: %w", table, err)
	}
	type entry struct {
		hash uint64
		kd   xregion.KeyDigest
	}
	var found []entry
	err := s.scan(ctx, table, func(kh uint64, r xregion.Record) {
		if _, ok := xregion.FindRange(ranges, kh); ok {
			found = append(found, entry{kh, xregion.KeyDigest{Key: r.Key, Version: r.Version, Hash: xregion.RowHash(r)}})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("key digests of %s: %w", table, err)
	}
	if len(found) > xregion.MaxChangeLimit {
		return nil, fmt.Errorf("key digests of %s: %w", table, &xregion.InvalidError{What: "key ranges",
			Reason: fmt.Sprintf("they hold %d records, more than %d; ask for narrower ranges", len(found), xregion.MaxChangeLimit)})
	}
	slices.SortFunc(found, func(a, b entry) int { return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.kd.Key, b.kd.Key)) })
	out := make([]xregion.KeyDigest, len(found))
	for i, e := range found {
		out[i] = e.kd
	}
	return out, nil
}

// Records returns the records stored under keys; see xregion.Digester.
func (s *Store) Records(ctx context.Context, table string, keys []string) ([]xregion.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(keys) > xregion.MaxChangeLimit {
		return nil, fmt.Errorf("records of %s: %w", table, &xregion.InvalidError{What: "keys",
			Reason: fmt.Sprintf("%d of them; want at most %d", len(keys), xregion.MaxChangeLimit)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.mu.tables[table]
	if !ok {
		return nil, fmt.Errorf("records of %q: %w", table, xregion.ErrUnknownTable)
	}
	var out []xregion.Record
	for _, k := range keys {
		if r, ok := t.records[k]; ok {
			out = append(out, r.Clone())
		}
	}
	return out, nil
}

// scan calls f with every record of table and its key's hash, under the lock.
func (s *Store) scan(ctx context.Context, table string, f func(keyHash uint64, r xregion.Record)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.mu.tables[table]
	if !ok {
		return fmt.Errorf("%q: %w", table, xregion.ErrUnknownTable)
	}
	for _, r := range t.records {
		f(xregion.KeyHash(r.Key), r)
	}
	return nil
}
