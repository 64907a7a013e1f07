package xregion

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"

	"github.com/xregion/xregion/internal/pghash"
)

// Digester is an optional capability of a Store, found by type assertion:
// it summarises a table's records by ranges of keys where the records live,
// so that two regions can find the keys on which they differ without
// sending each other the records (package resync).
//
// Ranges are ranges of KeyHash, not of keys: a range's share of a table
// does not depend on what its keys look like, and every store cuts the
// same ranges. A range's digest is the count of its records and the XOR of
// their RowHash, so it does not depend on the order in which the records
// were written, and the digest of two adjacent ranges is the combination
// of theirs. Tombstones are records: a key deleted in one region and not
// in the other differs.
type Digester interface {
	// Digests returns the digest of each range, in the order given: in
	// increasing order, none overlapping another (see ValidateRanges).
	// Errors: ErrInvalid (ranges ValidateRanges refuses), ErrUnknownTable.
	Digests(ctx context.Context, table string, ranges []KeyRange) ([]RangeDigest, error)

	// KeyDigests returns, for every record whose key lies in one of the
	// ranges, its key, version and RowHash, ordered by KeyHash and then by
	// key. Callers choose ranges narrow enough that the answer is small;
	// a store refuses to return more than MaxChangeLimit with ErrInvalid.
	// Errors as Digests.
	KeyDigests(ctx context.Context, table string, ranges []KeyRange) ([]KeyDigest, error)

	// Records returns the records stored under keys, tombstones included,
	// in the order of keys; a key never written is left out. Errors:
	// ErrInvalid (more than MaxChangeLimit keys), ErrUnknownTable.
	Records(ctx context.Context, table string, keys []string) ([]Record, error)
}

// MaxDigestRanges is the most ranges one Digests or KeyDigests call takes.
const MaxDigestRanges = 1 << 16

// KeyRange is the keys whose KeyHash lies in [Lo, Hi].
type KeyRange struct{ Lo, Hi uint64 }

// AllKeys is the range that holds every key.
var AllKeys = KeyRange{Lo: 0, Hi: math.MaxUint64}

// Contains reports whether the key with hash h lies in r.
func (r KeyRange) Contains(h uint64) bool { return r.Lo <= h && h <= r.Hi }

// Split cuts r into n ranges of (nearly) equal width, in order; fewer if r
// holds fewer than n hashes. n below 1 counts as 1.
func (r KeyRange) Split(n int) []KeyRange {
	width := r.Hi - r.Lo // one less than the number of hashes in r
	if n < 1 {
		n = 1
	}
	if uint64(n-1) > width {
		n = int(width) + 1
	}
	out := make([]KeyRange, n)
	lo := r.Lo
	for i := range out {
		// The i-th range ends before Lo + (i+1)·(width+1)/n, computed in
		// 128 bits because width+1 may be 2⁶⁴.
		hi := r.Hi
		if i < n-1 {
			hiWord, loWord := bits.Mul64(uint64(i+1), width)
			hiWord, loWord = add128(hiWord, loWord, uint64(i+1))
			q, _ := bits.Div64(hiWord, loWord, uint64(n))
			hi = r.Lo + q - 1
		}
		out[i] = KeyRange{Lo: lo, Hi: hi}
		lo = hi + 1
	}
	return out
}

func add128(hi, lo, x uint64) (uint64, uint64) {
	lo, carry := bits.Add64(lo, x, 0)
	return hi + carry, lo
}

// String formats r as "[lo, hi]" in hexadecimal.
func (r KeyRange) String() string { return fmt.Sprintf("[%016x, %016x]", r.Lo, r.Hi) }

// ValidateRanges checks what Digests and KeyDigests are given: 1 to
// MaxDigestRanges ranges, each with Lo at or below Hi, in increasing order
// and none overlapping the next.
func ValidateRanges(ranges []KeyRange) error {
	if len(ranges) == 0 || len(ranges) > MaxDigestRanges {
		return invalid("key ranges", "%d of them; want 1 to %d", len(ranges), MaxDigestRanges)
	}
	for i, r := range ranges {
		if r.Lo > r.Hi {
			return invalid("key range "+r.String(), "Lo is above Hi")
		}
		if i > 0 && r.Lo <= ranges[i-1].Hi {
			return invalid("key range "+r.String(), "not after %s; give ranges in increasing order, none overlapping", ranges[i-1])
		}
	}
	return nil
}

// FindRange returns the index of the range of sorted, disjoint ranges that
// holds hash h, and false if none does.
func FindRange(ranges []KeyRange, h uint64) (int, bool) {
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i].Hi >= h })
	return i, i < len(ranges) && ranges[i].Lo <= h
}

// RangeDigest summarises the records of one table in one range.
type RangeDigest struct {
	Range KeyRange
	Count int64  // how many records, tombstones included
	Hash  uint64 // the XOR of their RowHash; zero when Count is zero
}

// Digest computes the digests of records in ranges (sorted and disjoint,
// see ValidateRanges), record by record: the definition a Digester
// implements, and the reference its tests compare with.
func Digest(records []Record, ranges []KeyRange) []RangeDigest {
	out := make([]RangeDigest, len(ranges))
	for i, r := range ranges {
		out[i].Range = r
	}
	for _, r := range records {
		if i, ok := FindRange(ranges, KeyHash(r.Key)); ok {
			out[i].Add(RowHash(r))
		}
	}
	return out
}

// Add folds a record's RowHash into d.
func (d *RangeDigest) Add(rowHash uint64) {
	d.Count++
	d.Hash ^= rowHash
}

// KeyDigest is one record's entry in Digester.KeyDigests.
type KeyDigest struct {
	Key     string
	Version Version
	Hash    uint64 // RowHash of the record
}

// KeyHash places a key in the hash space that KeyRange cuts: PostgreSQL's
// hashtextextended(key, 0), read as unsigned. Stores compute it where the
// records live, so it is fixed for good. It replaced the first 64 bits of
// an MD5 because PostgreSQL computes it a hundred times faster (about
// 10 ns against 1 µs) and cannot change it between versions, as hash
// partitioning stores its values on disk.
func KeyHash(key string) uint64 {
	return pghash.BytesExtended([]byte(key), 0)
}

// RowHash identifies a record's state: hashtextextended(text, 0), as
// KeyHash, of a text that names its key, version, epoch, tombstone flag
// and value:
//
//	len(key) ":" key ":" wall ":" logical ":" origin ":" epoch ":" tombstone ":" hex(value)
//
// with the numbers in decimal, the flag as "true" or "false", and the
// value in lower-case hexadecimal, so that no value holds a ':' and an
// empty value is an empty field. The value is in it because a merge
// (CRDTs) can leave two regions with the same version and different
// values. Base is not: it is how the record was written, not what it
// holds.
func RowHash(r Record) uint64 {
	b := make([]byte, 0, 64+len(r.Key)+len(r.Version.Region)+2*len(r.Value))
	b = strconv.AppendInt(b, int64(len(r.Key)), 10)
	b = append(b, ':')
	b = append(b, r.Key...)
	b = append(b, ':')
	b = strconv.AppendInt(b, r.Version.Time.WallTime, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.Version.Time.Logical), 10)
	b = append(b, ':')
	b = append(b, r.Version.Region...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.Epoch), 10)
	b = append(b, ':')
	b = strconv.AppendBool(b, r.Tombstone)
	b = append(b, ':')
	b = hex.AppendEncode(b, r.Value)
	return pghash.BytesExtended(b, 0)
}
