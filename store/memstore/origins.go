package memstore

import (
	"slices"
	"time"

	"github.com/xregion/xregion"
)

// originLog indexes the changes of one origin in the changelog, so that
// Changes and Backlog for an origin visit none of the others: a region that
// mostly receives reads its own few changes without passing its peers'
// many. Backlog, whose range is always everything after a position, reads
// its answer from running sums and minima without visiting its changes.
type originLog struct {
	at    []int   // where each of the origin's changes is in the changelog, ascending
	bytes []int64 // bytes[k]: key and value bytes of the changes at[0] to at[k]
	// oldest holds, for every k, the oldest Time of the changes at[k] on:
	// it is the first entry whose k is k or more. Entries are the changes
	// no later change is as old as, so their Times strictly increase.
	oldest []oldestFrom
}

type oldestFrom struct {
	k    int
	time time.Time
}

// add records that the change c, of this origin, is changes[i].
func (l *originLog) add(i int, c xregion.Change) {
	total := int64(len(c.Record.Key) + len(c.Record.Value))
	if n := len(l.bytes); n > 0 {
		total += l.bytes[n-1]
	}
	l.at = append(l.at, i)
	l.bytes = append(l.bytes, total)
	for n := len(l.oldest); n > 0 && !l.oldest[n-1].time.Before(c.Time); n-- {
		l.oldest = l.oldest[:n-1]
	}
	l.oldest = append(l.oldest, oldestFrom{len(l.at) - 1, c.Time})
}

// after returns the index in l.at of the origin's first change after p.
func (l *originLog) after(changes []xregion.Change, p xregion.Position) int {
	k, found := slices.BinarySearchFunc(l.at, p, func(i int, p xregion.Position) int { return changes[i].Pos.Compare(p) })
	if found {
		k++
	}
	return k
}

// backlog fills b with the origin's changes from l.at[k] on.
func (l *originLog) backlog(changes []xregion.Change, k int, b *xregion.Backlog) {
	n := len(l.at)
	if k >= n {
		return
	}
	b.Changes = int64(n - k)
	b.Bytes = l.bytes[n-1]
	if k > 0 {
		b.Bytes -= l.bytes[k-1]
	}
	j, _ := slices.BinarySearchFunc(l.oldest, k, func(o oldestFrom, k int) int { return o.k - k })
	b.Oldest = l.oldest[j].time
	b.Head = changes[l.at[n-1]].Pos
}
