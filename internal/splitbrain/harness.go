package splitbrain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// Exchange ships between every ordered pair of stores until none lacks a
// change another made. It is the end of a split: everything each side
// wrote reaches the other. Done is judged by Store.Backlog, which counts
// the changes an open transaction still hides from Changes, so Exchange
// waits for those rather than stopping early.
func Exchange(ctx context.Context, stores ...xregion.Store) error {
	for {
		behind := false
		for _, from := range stores {
			for _, to := range stores {
				if from == to {
					continue
				}
				if _, err := replicate.Ship(ctx, from, to); err != nil {
					return err
				}
				wm, err := to.Watermark(ctx, from.Region())
				if err != nil {
					return err
				}
				bl, err := from.Backlog(ctx, wm, from.Region())
				if err != nil {
					return err
				}
				behind = behind || bl.Changes > 0
			}
		}
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("exchange changelogs: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Hash returns a digest of what s holds under keys in table: the records'
// canonical encodings (xregion.AppendRecord), key by key in sorted order,
// with a marker for a key that holds nothing. Two regions hold identical
// data for those keys exactly when their hashes are equal.
func Hash(ctx context.Context, s xregion.Store, table string, keys []string) (string, error) {
	keys = slices.Sorted(slices.Values(keys))
	keys = slices.Compact(keys)
	h := sha256.New()
	var buf []byte
	for _, k := range keys {
		rec, err := s.Get(ctx, table, k)
		buf = buf[:0]
		switch {
		case errors.Is(err, xregion.ErrNotFound):
			buf = append(buf, 0)
			buf = append(buf, k...)
		case err != nil:
			return "", fmt.Errorf("hash %s in %s: %w", table, s.Region(), err)
		default:
			buf = append(buf, 1)
			buf = xregion.AppendRecord(buf, rec)
		}
		fmt.Fprintf(h, "%d:", len(buf))
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Ledger returns s's whole lost-update ledger.
func Ledger(ctx context.Context, s xregion.Store) ([]xregion.LostUpdate, error) {
	var out []xregion.LostUpdate
	var after int64
	for {
		page, err := s.LostUpdates(ctx, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("read the ledger of %s: %w", s.Region(), err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// Changelog returns s's whole changelog as Changes can read it now.
func Changelog(ctx context.Context, s xregion.Store) ([]xregion.Change, error) {
	var out []xregion.Change
	var after xregion.Position
	for {
		page, err := s.Changes(ctx, xregion.ChangeQuery{After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("read the changelog of %s: %w", s.Region(), err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].Pos
	}
}

// LostID identifies a lost write across regions' ledgers: table, key and
// the lost version, as xregion.LostUpdate documents.
type LostID struct {
	Table   string
	Key     string
	Version xregion.Version
}

// IDOf returns l's LostID.
func IDOf(l xregion.LostUpdate) LostID {
	return LostID{Table: l.Table, Key: l.Lost.Key, Version: l.Lost.Version}
}
