package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/health"
)

// maxHealthBytes bounds a /health body; a report of a few dozen links is
// a few kilobytes.
const maxHealthBytes = 1 << 20

// fetchHealth reads region r's /health. It answers 200 when UP and 503
// otherwise, with the report in the body either way.
func (m *Monitor) fetchHealth(ctx context.Context, r config.Region) *Health {
	down := func(why string, err error) *Health {
		if err != nil {
			m.opts.logger.Warn("status: read health", "region", r.Name, "reason", why, "err", err)
		}
		return &Health{Status: StatusUnreachable, Reason: why, FailingChecks: []string{}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Health, nil)
	if err != nil {
		return down(ReasonBadAnswer, err) // config.Validate checked the URL
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := m.client.Do(req)
	if err != nil {
		return down(reason(ctx, err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return down("http "+strconv.Itoa(resp.StatusCode), nil)
	}
	var rep health.Report
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxHealthBytes)).Decode(&rep); err != nil {
		if ctx.Err() != nil {
			return down(ReasonTimeout, err)
		}
		return down(ReasonBadAnswer, err)
	}
	latency := time.Since(start)
	switch rep.Status {
	case health.StatusUp, health.StatusDegraded, health.StatusDown:
	default:
		return down(ReasonBadAnswer, fmt.Errorf("status %q", rep.Status))
	}
	if rep.Region != r.Name {
		return down(ReasonWrongRegion, fmt.Errorf("it answers for region %q", rep.Region))
	}
	h := &Health{Status: Status(rep.Status), LatencyMS: ms(latency), FailingChecks: []string{}}
	for name, c := range rep.Checks {
		if c.Status != health.StatusUp {
			h.FailingChecks = append(h.FailingChecks, name)
		}
	}
	slices.Sort(h.FailingChecks)
	for _, l := range rep.Replication {
		if l.Peer.Validate() != nil {
			continue
		}
		lr := linkReport{peer: l.Peer, rpo: time.Duration(l.RPOMS) * time.Millisecond}
		if l.LastContact != "" {
			if t, err := time.Parse(time.RFC3339Nano, l.LastContact); err == nil {
				lr.lastContact = t
			}
		}
		h.links = append(h.links, lr)
	}
	return h
}

// contact finds what the health reports say of the link from → to: from's
// report of its link to to, else to's of its link to from. A report with
// several links to the same peer (one per tier) gives the latest contact
// and the largest RPO.
func contact(from, to *Health, fromName, toName xregion.Region) (lastContact time.Time, by xregion.Region, rpo time.Duration, rpoKnown bool) {
	scan := func(h *Health, peer xregion.Region) (time.Time, bool) {
		var last time.Time
		found := false
		for _, l := range h.links {
			if l.peer == peer && l.lastContact.After(last) {
				last, found = l.lastContact, true
			}
		}
		return last, found
	}
	if from != nil {
		for _, l := range from.links {
			if l.peer == toName {
				rpo, rpoKnown = max(rpo, l.rpo), true
			}
		}
		if t, ok := scan(from, toName); ok {
			return t, fromName, rpo, rpoKnown
		}
	}
	if to != nil {
		if t, ok := scan(to, fromName); ok {
			return t, toName, rpo, rpoKnown
		}
	}
	return time.Time{}, "", rpo, rpoKnown
}
