package resync

import (
	"fmt"

	"github.com/xregion/xregion"
	"io"
	"text/tabwriter"
)

// Print writes the plan as a table a person reads before applying it: the
// changelog gaps, per table what each region receives, and then each
// unshipped write and each conflict, by key. The plan marshals to JSON as
// well (encoding/json), with the same content.
func (p *Plan) Print(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("resync plan: %s (returning) and %s, keys found by %s\n", p.A, p.B, p.Source)
	for _, g := range p.Gaps {
		ew.printf("  %s lacks %d changes of %s (%s to %s)", g.To, g.Changes, g.From, g.After, g.Through)
		if g.Hidden > 0 {
			ew.printf(", and %d more that open transactions still hide", g.Hidden)
		}
		if g.Truncated {
			ew.printf(", and more that retention removed (found by digests)")
		}
		ew.printf("\n")
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "table\tcompared\tdiffer\tto %s\tbytes\tto %s\tbytes\tunshipped\tconflicts\tunresolved\t\n", p.A, p.B)
	for _, t := range p.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t.Table, t.Compared, t.Differ,
			t.ToA.Records, t.ToA.Bytes, t.ToB.Records, t.ToB.Bytes, t.UnshippedCount, t.ConflictCount, t.UnresolvedCount)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range p.Tables {
		for _, u := range t.Unshipped {
			ew.printf("unshipped  %s %q written in %s at %s: %s\n", t.Table, u.Key, u.Region, when(u.Version), u.Outcome)
		}
		more(ew, t.Table, "unshipped writes", t.UnshippedCount-len(t.Unshipped))
		for _, c := range t.Conflicts {
			ew.printf("conflict   %s %q: the write of %s loses (%s) to %s, into %s's ledger\n", t.Table, c.Key, when(c.Lost), c.Reason, when(c.Winner), c.Region)
		}
		more(ew, t.Table, "conflicts", t.ConflictCount-len(t.Conflicts))
		for _, k := range t.Unresolved {
			ew.printf("unresolved %s %q: the resolvers leave the regions apart; its home reasserts it (Table.Reassert)\n", t.Table, k)
		}
		more(ew, t.Table, "unresolved keys", t.UnresolvedCount-len(t.Unresolved))
	}
	return ew.err
}

func more(ew *errWriter, table, what string, n int) {
	if n > 0 {
		ew.printf("           %s: %d more %s, in the JSON counts\n", table, n, what)
	}
}

// when shows a version with its wall time, which a person can match with
// logs: "2026-12-04T09:01:09.000Z (1796374869.000000000,0@a)".
func when(v xregion.Version) string {
	if v.IsZero() {
		return "nothing"
	}
	return v.Time.GoTime().Format("2006-01-02T15:04:05.000Z") + " (" + v.String() + ")"
}

// errWriter keeps the first write error, so Print checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
