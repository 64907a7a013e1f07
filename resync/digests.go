package resync

import (
	"context"
	"slices"

	"github.com/xregion/xregion"
)

// How digests narrow down: a range that differs and holds more than
// leafKeys records (in the region that holds more) is split into ranges of
// about leafKeys records each, at most maxSplit of them, and compared again;
// one that holds leafKeys or fewer is compared key by key. Each pass costs
// one round trip per region; narrow leaves keep the bytes of the key-by-key
// comparison close to the keys that differ.
const (
	leafKeys    = 16
	maxSplit    = 64
	maxLeafKeys = 20_000 // keys compared per KeyDigests call
)

// diffDigests finds the keys of table on which the two regions differ by
// comparing range digests, narrowing to the ranges that differ. It returns
// them sorted, and how many records the first pass covered.
func diffDigests(ctx context.Context, ss [2]side, table string, cfg config, pr *progress) ([]string, int64, error) {
	var keys []string
	var compared int64
	pending := xregion.AllKeys.Split(cfg.fanout)
	for pass := 0; len(pending) > 0; pass++ {
		var next []xregion.KeyRange
		var leaves []leaf
		for chunk := range slices.Chunk(pending, xregion.MaxDigestRanges) {
			ds, err := both(ss, func(s side) ([]xregion.RangeDigest, error) { return s.dig.Digests(ctx, table, chunk) })
			if err != nil {
				return nil, 0, err
			}
			for i, r := range chunk {
				da, db := ds[0][i], ds[1][i]
				n := max(da.Count, db.Count)
				if pass == 0 {
					compared += n
				}
				switch {
				case da == db:
				case n <= leafKeys || r.Lo == r.Hi:
					leaves = append(leaves, leaf{r, n})
				default:
					next = append(next, r.Split(int(min(max((n+leafKeys-1)/leafKeys, 2), maxSplit)))...)
				}
			}
		}
		if pass == 0 {
			pr.start(table, compared)
			pr.advance(compared, 0)
		}
		found, err := diffLeaves(ctx, ss, table, leaves)
		if err != nil {
			return nil, 0, err
		}
		keys = append(keys, found...)
		pending = next
	}
	slices.Sort(keys)
	return keys, compared, nil
}

// leaf is a range to compare key by key, and how many records it holds at most.
type leaf struct {
	r xregion.KeyRange
	n int64
}

// diffLeaves compares the leaves key by key, a bounded number of keys per
// round trip, and returns the keys whose records differ or that only one
// region holds.
func diffLeaves(ctx context.Context, ss [2]side, table string, leaves []leaf) ([]string, error) {
	var keys []string
	for len(leaves) > 0 {
		n, total := 0, int64(0)
		for n < len(leaves) && n < xregion.MaxDigestRanges && (n == 0 || total+leaves[n].n <= maxLeafKeys) {
			total += leaves[n].n
			n++
		}
		ranges := make([]xregion.KeyRange, n)
		for i, l := range leaves[:n] {
			ranges[i] = l.r
		}
		leaves = leaves[n:]
		kds, err := both(ss, func(s side) ([]xregion.KeyDigest, error) { return s.dig.KeyDigests(ctx, table, ranges) })
		if err != nil {
			return nil, err
		}
		inA := make(map[string]uint64, len(kds[0]))
		for _, kd := range kds[0] {
			inA[kd.Key] = kd.Hash
		}
		for _, kd := range kds[1] {
			h, ok := inA[kd.Key]
			if !ok || h != kd.Hash {
				keys = append(keys, kd.Key)
			}
			delete(inA, kd.Key)
		}
		for k := range inA {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
