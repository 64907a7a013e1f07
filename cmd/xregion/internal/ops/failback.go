package ops

import (
	"fmt"
	"io"
	"strings"

	"github.com/xregion/xregion/resync"
)

// NothingToApply reports whether applying the plan would change nothing:
// no key differs and no changelog gap waits for its watermark to move (a
// gap of changes that open transactions hid moves no watermark).
func NothingToApply(p *resync.Plan) bool {
	for _, g := range p.Gaps {
		if g.Changes > 0 {
			return false
		}
	}
	for _, t := range p.Tables {
		if t.Differ > 0 {
			return false
		}
	}
	return true
}

// PlanSummary says in one line what applying the plan sends each way.
func PlanSummary(p *resync.Plan) string {
	var toA, toB, conflicts int
	for _, t := range p.Tables {
		toA += t.ToA.Records
		toB += t.ToB.Records
		conflicts += t.ConflictCount
	}
	return fmt.Sprintf("%s receives %d records and %s %d; %d writes go to a lost-update ledger",
		p.A, toA, p.B, toB, conflicts)
}

// PrintApplied writes what Plan.Apply did.
func PrintApplied(w io.Writer, p *resync.Plan, a resync.Applied) {
	fmt.Fprintf(w, "applied: %s received %d records and %s %d (%d bytes); %d lost-update ledger entries; %d watermarks moved",
		p.A, a.ToA, p.B, a.ToB, a.Bytes, a.LostCount, a.Watermarks)
	if a.Reasserted > 0 {
		fmt.Fprintf(w, "; %d keys reasserted by their home", a.Reasserted)
	}
	if a.Unresolved > 0 {
		fmt.Fprintf(w, "; %d keys left apart with nothing to settle them", a.Unresolved)
	}
	fmt.Fprintln(w)
}

// PrintVerification writes what resync.Verify found: equal, or per table
// the keys that differ. It reports whether the regions are equal.
func PrintVerification(w io.Writer, v *resync.Verification) bool {
	var compared int64
	var newer int
	for _, t := range v.Tables {
		compared += t.Compared
		newer += t.NewerCount
	}
	if v.Equal() {
		fmt.Fprintf(w, "verified: %s and %s are equal (%d records compared in %d tables)\n", v.A, v.B, compared, len(v.Tables))
	} else {
		fmt.Fprintf(w, "NOT EQUAL: %s and %s differ\n", v.A, v.B)
		for _, t := range v.Tables {
			if t.DifferCount == 0 {
				continue
			}
			fmt.Fprintf(w, "  table %s: %d keys differ: %s\n", t.Table, t.DifferCount, listKeys(t.Differ, t.DifferCount))
		}
	}
	if newer > 0 {
		fmt.Fprintf(w, "  and %d keys differ by writes made since the failback began, which replication carries:\n", newer)
		for _, t := range v.Tables {
			if t.NewerCount > 0 {
				fmt.Fprintf(w, "  table %s: %s\n", t.Table, listKeys(t.Newer, t.NewerCount))
			}
		}
	}
	return v.Equal()
}

// listKeys quotes the keys, the first twenty of them, and counts the rest.
func listKeys(keys []string, count int) string {
	const n = 20
	quoted := make([]string, 0, n+1)
	for _, k := range keys[:min(n, len(keys))] {
		quoted = append(quoted, fmt.Sprintf("%q", k))
	}
	if rest := count - len(quoted); rest > 0 {
		quoted = append(quoted, fmt.Sprintf("and %d more", rest))
	}
	return strings.Join(quoted, ", ")
}
