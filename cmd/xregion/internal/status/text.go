package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes r for a person: a line with the verdict, then a table
// per section (regions, links, staged writes, and epochs when a region
// reports an ownership map). Unknown values show as "-".
func WriteText(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	verdict := "OK"
	if !r.OK {
		verdict = "NOT OK"
	}
	fmt.Fprintf(tw, "xregion status at %s: %s (timeout %s)\n", r.At, verdict, msText(&r.TimeoutMS))

	fmt.Fprintf(tw, "\nREGIONS\n")
	fmt.Fprintf(tw, "REGION\tSTATUS\tHEALTH\tSTORE\n")
	for _, g := range r.Regions {
		name := string(g.Name)
		if g.Primary {
			name += " (primary)"
		}
		health := "no URL"
		if h := g.Health; h != nil {
			health = probeText(h.Status, h.Reason, h.LatencyMS)
			if len(h.FailingChecks) > 0 {
				health += " failing: " + strings.Join(h.FailingChecks, ",")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, g.Status, health, probeText(g.Store.Status, g.Store.Reason, g.Store.LatencyMS))
	}

	if len(r.Links) > 0 {
		l := r.Links[0]
		fmt.Fprintf(tw, "\nLINKS (live RPO against %s's target of %s)\n", l.Tier, msText(&l.TargetMS))
	} else {
		fmt.Fprintf(tw, "\nLINKS\n")
	}
	fmt.Fprintf(tw, "LINK\tSTATUS\tRPO\tTARGET\tPENDING\tLAST CONTACT\tNOTE\n")
	for _, l := range r.Links {
		last := "-"
		if l.SinceContactMS != nil && l.ContactReportedBy != nil {
			last = fmt.Sprintf("%s ago (per %s)", msText(l.SinceContactMS), *l.ContactReportedBy)
		}
		var notes []string
		if l.Reason != "" {
			notes = append(notes, l.Reason)
		}
		if l.ReportedRPOMS != nil {
			notes = append(notes, fmt.Sprintf("%s's replicator says RPO %s", l.From, msText(l.ReportedRPOMS)))
		}
		note := strings.Join(notes, "; ")
		fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.From, l.To, l.Status, msText(l.RPOMS),
			msText(&l.TargetMS), intText(l.Pending), last, note)
	}

	fmt.Fprintf(tw, "\nSTAGED\n")
	fmt.Fprintf(tw, "REGION\tSTAGED WRITES\n")
	for _, g := range r.Regions {
		fmt.Fprintf(tw, "%s\t%s\n", g.Name, intText(g.Staged))
	}

	if hasOwnership(r) {
		fmt.Fprintf(tw, "\nEPOCHS (single-writer homes as each region sees them)\n")
		fmt.Fprintf(tw, "REGION\tHOME\tPARTITIONS\tMAX EPOCH\n")
		for _, g := range r.Regions {
			o := g.Ownership
			if o == nil {
				fmt.Fprintf(tw, "%s\t-\t-\t-\n", g.Name)
				continue
			}
			for _, h := range o.Homes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", g.Name, h.Region, h.Partitions, h.MaxEpoch)
			}
			if o.Unassigned > 0 || len(o.Homes) == 0 {
				fmt.Fprintf(tw, "%s\t(none)\t%d\t-\n", g.Name, o.Unassigned)
			}
		}
	}
	return tw.Flush()
}

func hasOwnership(r Report) bool {
	for _, g := range r.Regions {
		if g.Ownership != nil {
			return true
		}
	}
	return false
}

// probeText is a status with its latency when it answered, or its reason.
func probeText(s Status, reason string, latency *int64) string {
	switch {
	case reason != "":
		return fmt.Sprintf("%s (%s)", s, reason)
	case latency != nil:
		return fmt.Sprintf("%s %s", s, msText(latency))
	}
	return string(s)
}

func msText(v *int64) string {
	if v == nil {
		return "-"
	}
	return (time.Duration(*v) * time.Millisecond).String()
}

func intText(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}
