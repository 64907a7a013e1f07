package pgstore

import (
	"context"
	"time"

	"github.com/xregion/xregion"
)

// SetBeforeCommit makes every Apply of s call fn after its writes are sent
// and before it commits, so a test can hold a transaction open.
func SetBeforeCommit(s *Store, fn func()) { s.beforeCommit = fn }

// AlwaysCopy makes Apply write every new row with COPY.
func AlwaysCopy(s *Store) { s.copySaving = time.Hour }

// NeverValues makes every statement send its rows as arrays through unnest.
func NeverValues(s *Store) { s.valuesMax = 0 }

// RecordColumnDefs are the columns of a data table after its key, for tests
// that build a table of an older layout.
const RecordColumnDefs = recordColumnDefs

// SmallSpans makes Backlog cut spans of rows changes (at least) once it
// counted cutAt changes directly.
func SmallSpans(s *Store, rows, cutAt int) { s.spanRows, s.spanCutAt = rows, cutAt }

// IndexDigests computes digests from the index of the hash columns, as
// Digests does for ranges that are not whole buckets of the sums.
func IndexDigests(ctx context.Context, s *Store, table string, ranges []xregion.KeyRange) ([]xregion.RangeDigest, error) {
	out := make([]xregion.RangeDigest, len(ranges))
	for i, r := range ranges {
		out[i].Range = r
	}
	return out, s.digestsFromIndex(ctx, table, ranges, out)
}

// CompactSums folds table's sums into one row per bucket.
func CompactSums(ctx context.Context, s *Store, table string) error { return s.compactSums(ctx, table) }

// SumsTable names table's sums table.
func SumsTable(table string) string { return sumsTable(table) }

// SumBuckets is how many buckets the sums keep.
const SumBuckets = sumBuckets

// CompactAbove is how many delta rows a read of the sums meets before it
// folds them.
const CompactAbove = compactAbove
