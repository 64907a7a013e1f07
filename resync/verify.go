package resync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xregion/xregion"
)

// Verification is what Verify found.
type Verification struct {
	A      xregion.Region      `json:"a"`
	B      xregion.Region      `json:"b"`
	Since  time.Time           `json:"since"` // writes stamped after it are listed as Newer, not as differences
	Tables []TableVerification `json:"tables"`
}

// Equal reports whether no table differs, apart from newer writes.
func (v *Verification) Equal() bool {
	for _, t := range v.Tables {
		if t.DifferCount > 0 {
			return false
		}
	}
	return true
}

// TableVerification is one table's part of a Verification.
type TableVerification struct {
	Table    string `json:"table"`
	Compared int64  `json:"compared"` // records the digests covered
	// Differ are keys whose records differ although neither was written
	// after Since: the first MaxListed of them, DifferCount in all.
	Differ      []string `json:"differ"`
	DifferCount int      `json:"differ_count"`
	// Newer are keys that differ because a write stamped after Since has
	// not reached the other region yet (replication carries it): the first
	// MaxListed of them, NewerCount in all.
	Newer      []string `json:"newer"`
	NewerCount int      `json:"newer_count"`
}

// VerifyError says which tables differ. It wraps ErrNotEqual.
type VerifyError struct{ V *Verification }

func (e *VerifyError) Error() string {
	var parts []string
	for _, t := range e.V.Tables {
		if t.DifferCount > 0 {
			parts = append(parts, fmt.Sprintf("table %s: %d keys (%s)", t.Table, t.DifferCount, listKeys(t.Differ, 5)))
		}
	}
	return fmt.Sprintf("resync: regions %s and %s differ: %s", e.V.A, e.V.B, strings.Join(parts, "; "))
}

// Unwrap returns ErrNotEqual.
func (e *VerifyError) Unwrap() error { return ErrNotEqual }

func listKeys(keys []string, n int) string {
	quoted := make([]string, 0, n)
	for _, k := range keys[:min(n, len(keys))] {
		quoted = append(quoted, fmt.Sprintf("%q", k))
	}
	if len(keys) > n {
		quoted = append(quoted, "…")
	}
	return strings.Join(quoted, ", ")
}

// WithSince sets the time from which Verify counts a differing key as a
// newer write that replication has yet to carry, not as a difference.
// Default: when Verify starts; Run passes when its plan started.
func WithSince(t time.Time) Option { return option(func(c *config) { c.since = t }) }

// Verify compares regions a and b by digests, at any time, and lists the
// keys on which they differ. It returns a *VerifyError (ErrNotEqual) if any
// key differs other than by a write stamped after Since, and the
// Verification either way. A write stamped further ahead of Verify's clock
// than xregion.DefaultMaxOffset does not count as newer: clocks that far
// apart would hide real differences.
func Verify(ctx context.Context, a, b xregion.Store, tables []Table, opts ...Option) (*Verification, error) {
	cfg, ss, err := prepare(a, b, tables, opts)
	if err != nil {
		return nil, fmt.Errorf("resync verify: %w", err)
	}
	v := &Verification{A: a.Region(), B: b.Region(), Since: cfg.since}
	if v.Since.IsZero() {
		v.Since = cfg.wall.Now()
	}
	since := v.Since.UnixNano()
	// A version ahead of this clock by more than the clocks may drift is
	// not a write replication is still carrying but a clock gone wrong:
	// it does not excuse a difference.
	horizon := cfg.wall.Now().Add(xregion.DefaultMaxOffset).UnixNano()
	pr := newProgress(cfg, "verify")
	for _, t := range tables {
		keys, compared, err := diffDigests(ctx, ss, t.Name, cfg, pr)
		if err != nil {
			return v, fmt.Errorf("resync verify: table %s: %w", t.Name, err)
		}
		tv := TableVerification{Table: t.Name, Compared: compared}
		for batch := range slices.Chunk(keys, cfg.batch) {
			recs, err := readBoth(ctx, ss, t.Name, batch)
			if err != nil {
				return v, fmt.Errorf("resync verify: table %s: %w", t.Name, err)
			}
			for _, key := range batch {
				newer := false
				for _, r := range [2]*xregion.Record{recs[0][key], recs[1][key]} {
					newer = newer || r != nil && r.Version.Time.WallTime > since && r.Version.Time.WallTime <= horizon
				}
				if newer {
					tv.NewerCount++
					if len(tv.Newer) < MaxListed {
						tv.Newer = append(tv.Newer, key)
					}
					continue
				}
				tv.DifferCount++
				if len(tv.Differ) < MaxListed {
					tv.Differ = append(tv.Differ, key)
				}
			}
		}
		v.Tables = append(v.Tables, tv)
	}
	if !v.Equal() {
		return v, &VerifyError{V: v}
	}
	return v, nil
}
