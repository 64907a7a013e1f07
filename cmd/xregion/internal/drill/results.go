package drill

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xregion/xregion/cmd/xregion/internal/report"
	"github.com/xregion/xregion/resync"
)

// report judges what was measured against each tier's targets.
func (d *drill) report(end time.Duration, reported [2]time.Duration, readSkew, killAt, detectAt, firstB time.Duration,
	loss lossFound, back [2]*resync.Report, held, total [2]int) report.Drill {
	s := d.s
	rto := firstB - killAt
	detect := detectAt - killAt
	// The detector's promise: the Failures-th failed probe ends at most
	// one interval (the phase of the first probe), Failures-1 more
	// intervals, and one probe timeout after the kill; a quarter interval
	// more for the scheduling of a busy machine.
	detectBound := time.Duration(s.Failures)*s.ProbeEvery + s.ProbeTimeout + s.ProbeEvery/4

	var rows []report.Result
	add := func(tier, measure, target, measured string, pass bool, note string) {
		rows = append(rows, report.Result{Tier: tier, Measure: measure, Target: target, Measured: measured, Pass: pass, Note: note})
	}
	add("all", "time to detect", "≤ "+detectBound.String(), round(detect).String(), detect <= detectBound,
		fmt.Sprintf("%d probes × %s + timeout %s + %s slack", s.Failures, s.ProbeEvery, s.ProbeTimeout, s.ProbeEvery/4))
	for i, t := range tiers {
		add(t.label, "RPO", rpoTarget(t.tier.RPO),
			fmt.Sprintf("%d of %d acknowledged writes lost (oldest %s before the failure)", loss.missing[i], loss.acked[i], round(loss.age[i])),
			loss.age[i] <= t.tier.RPO && (t.tier.RPO > 0 || loss.missing[i] == 0), "")
		// The loss found may not exceed what the lag tracker said the
		// region would lose, plus the time from the start of that
		// reading to the kill: the tracker ages the oldest change at some
		// moment of the reading.
		add(t.label, "RPO reported at failure", "≥ loss found", fmt.Sprintf("reported %s, found %s", round(reported[i]), round(loss.age[i])),
			loss.age[i] <= reported[i]+readSkew, fmt.Sprintf("read from %s before the kill", round(readSkew)))
		add(t.label, "RTO", t.tier.RTO.String(), round(rto).String(), rto <= t.tier.RTO, "kill to the first write acknowledged by the standby")
		equal := back[i].Verified.Equal()
		measured := "equal"
		if !equal {
			measured = "DIFFER"
		}
		add(t.label, "failback", "regions verified equal", measured, equal,
			fmt.Sprintf("%d records moved, %d conflicts to the ledger", back[i].Applied.ToA+back[i].Applied.ToB, back[i].Applied.LostCount))
		add(t.label, "acknowledged writes after failback", "all, in both regions", fmt.Sprintf("%d of %d", held[i], total[i]),
			held[i] == total[i], "")
	}
	pass := true
	for _, r := range rows {
		pass = pass && r.Pass
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	rep := report.Drill{
		Started:  d.start,
		Duration: end,
		Settings: [][2]string{
			{"regions", d.env.About},
			{"probe every", s.ProbeEvery.String()},
			{"probe timeout", s.ProbeTimeout.String()},
			{"down after", fmt.Sprintf("%d failed probes", s.Failures)},
			{"warm-up", s.Warmup.String()},
			{"outage", s.Outage.String()},
			{"payment writers", fmt.Sprint(s.Tier1Writers)},
			{"stock update every", s.Tier2Every.String()},
		},
		Events:  append([]report.Event(nil), d.mu.events...),
		Results: rows,
		Pass:    pass,
	}
	for i, t := range tiers {
		rep.Rates = append(rep.Rates, report.Series{Name: t.label, Points: append([]report.Point(nil), d.mu.rates[i]...)})
		rep.Lags = append(rep.Lags, report.Series{Name: t.label, Points: append([]report.Point(nil), d.mu.lags[i]...)})
	}
	return rep
}

func rpoTarget(d time.Duration) string {
	if d == 0 {
		return "0: no acknowledged write lost"
	}
	return d.String()
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// Print writes the verdict table: each tier's targets against what was
// measured, PASS or FAIL on each row, and the verdict.
func Print(w io.Writer, rep report.Drill) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIER\tMEASURE\tTARGET\tMEASURED\tRESULT")
	for _, r := range rep.Results {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Tier, r.Measure, r.Target, r.Measured, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASS: every target met"
	if !rep.Pass {
		verdict = "FAIL: a target was missed"
	}
	_, err := fmt.Fprintf(w, "\n%s (drill took %s)\n", verdict, rep.Duration.Round(100*time.Millisecond))
	return err
}
