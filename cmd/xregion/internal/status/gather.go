package status

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
)

// Gather reads every region of f once, concurrently, within the timeout
// (WithTimeout), and closes what it opened. The error is only for bad
// options or config, or ctx ending: what a region could not answer is in
// the Report.
func Gather(ctx context.Context, f config.File, opts ...Option) (Report, error) {
	m, err := New(f, opts...)
	if err != nil {
		return Report{}, err
	}
	defer m.Close()
	return m.Gather(ctx)
}

// Monitor gathers reports of one deployment again and again (xregion
// status --watch), keeping each region's database connections open from
// one report to the next. It is safe for concurrent use; reports are
// gathered one at a time.
type Monitor struct {
	file   config.File
	opts   options
	tier   replicate.Tier
	client *http.Client
	ours   bool // client is ours to close

	mu struct {
		sync.Mutex
		opened []*config.Opened // by region; nil until opened
		closed bool
	}
}

// New returns a Monitor of the deployment f describes. It connects to
// nothing yet: each Gather opens what it has not opened before.
func New(f config.File, opts ...Option) (*Monitor, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("new status monitor: %w", err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("new status monitor: %w", err)
	}
	m := &Monitor{file: f, opts: o, tier: strictest(f.Tables), client: o.client}
	if m.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		m.client, m.ours = &http.Client{Transport: tr, Timeout: o.timeout}, true
	}
	m.mu.opened = make([]*config.Opened, len(f.Regions))
	return m, nil
}

// strictest returns the tier with the smallest RPO target among tables.
func strictest(tables []config.Table) replicate.Tier {
	t := tables[0].TierOf()
	for _, tb := range tables[1:] {
		if tt := tb.TierOf(); tt.RPO < t.RPO {
			t = tt
		}
	}
	return t
}

// Close closes the regions' connections. The Monitor gathers no more.
func (m *Monitor) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.closed = true
	for i, o := range m.mu.opened {
		if o != nil {
			o.Close()
			m.mu.opened[i] = nil
		}
	}
	if m.ours {
		m.client.CloseIdleConnections()
	}
}

// errClosed is returned by Gather after Close.
var errClosed = errors.New("status: monitor closed")

// regionRead is what reading one region's database gave: the Store part
// of its Region, and, when it answered, its store and the watermark it
// holds of each peer (by region index).
type regionRead struct {
	store      Store
	staged     *int64
	ownership  *Ownership
	opened     *config.Opened // nil if it did not answer
	watermarks []xregion.Position
}

// Gather reads every region concurrently, within the timeout, and returns
// the report. It returns an error only if ctx ends first (or after
// Close); a region that does not answer in time is reported so.
func (m *Monitor) Gather(ctx context.Context) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return Report{}, errClosed
	}
	at := m.opts.wall.Now()
	dctx, cancel := context.WithTimeout(ctx, m.opts.timeout)
	defer cancel()

	n := len(m.file.Regions)
	reads := make([]regionRead, n)
	healths := make([]*Health, n)
	read := make([]chan struct{}, n) // closed once reads[i] is set
	var wg sync.WaitGroup
	for i, r := range m.file.Regions {
		read[i] = make(chan struct{})
		wg.Go(func() {
			defer close(read[i])
			reads[i] = m.readStore(dctx, i)
		})
		if r.Health != "" {
			wg.Go(func() { healths[i] = m.fetchHealth(dctx, r) })
		}
	}
	// Each link needs its two ends' reads; it starts as soon as they are
	// done, so a dead region holds up only its own links.
	links := make([]Link, 0, n*(n-1))
	for i := range n {
		for j := range n {
			if i != j {
				links = append(links, Link{From: m.file.Regions[i].Name, To: m.file.Regions[j].Name})
			}
		}
	}
	for k := range links {
		i, j := m.index(links[k].From), m.index(links[k].To)
		wg.Go(func() {
			<-read[i]
			<-read[j]
			m.readLink(dctx, &links[k], reads[i], reads[j])
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}

	rep := Report{Version: Version, At: at.UTC().Format(TimeFormat), TimeoutMS: m.opts.timeout.Milliseconds(),
		Regions: make([]Region, n), Links: links}
	for i, r := range m.file.Regions {
		reg := Region{Name: r.Name, Primary: i == 0, Health: healths[i], Store: reads[i].store,
			Staged: reads[i].staged, Ownership: reads[i].ownership}
		reg.Status = reg.Store.Status
		if reg.Health != nil {
			reg.Status = worst(reg.Status, reg.Health.Status)
		}
		rep.Regions[i] = reg
	}
	for k := range rep.Links {
		l := &rep.Links[k]
		last, by, rpo, rpoKnown := contact(healths[m.index(l.From)], healths[m.index(l.To)], l.From, l.To)
		if !last.IsZero() {
			l.LastContact = ptr(last.UTC().Format(TimeFormat))
			l.SinceContactMS = ms(max(at.Sub(last), 0))
			l.ContactReportedBy = &by
		}
		if rpoKnown {
			l.ReportedRPOMS = ms(rpo)
		}
	}
	rep.OK = true
	for _, r := range rep.Regions {
		rep.OK = rep.OK && r.Status == StatusUp
	}
	for _, l := range rep.Links {
		rep.OK = rep.OK && l.Status == LinkOK
	}
	return rep, nil
}

func (m *Monitor) index(name xregion.Region) int {
	return slices.IndexFunc(m.file.Regions, func(r config.Region) bool { return r.Name == name })
}

// readStore opens region i's store unless it is open, and reads what the
// report shows of it: a round trip, its stage, its ownership map, and its
// watermark of each peer. A region that fails any of them is UNREACHABLE:
// only what it gave before it failed is kept.
func (m *Monitor) readStore(ctx context.Context, i int) (rr regionRead) {
	r := m.file.Regions[i]
	rr.store = Store{Status: StatusUnreachable}
	fail := func(what string, err error) regionRead {
		rr.store.Reason = reason(ctx, err)
		rr.opened = nil
		m.opts.logger.Warn("status: read store", "region", r.Name, "step", what, "reason", rr.store.Reason, "err", err)
		return rr
	}
	o := m.mu.opened[i]
	fresh := o == nil
	if fresh {
		var err error
		if o, err = m.file.Open(ctx, r); err != nil {
			return fail("open", err)
		}
		m.mu.opened[i] = o // the gathering goroutine holds m.mu for us
	}
	rr.opened = o
	start := time.Now()
	if _, err := o.Store.Watermark(ctx, r.Name); err != nil {
		return fail("read own watermark", err)
	}
	rr.store.LatencyMS = ms(time.Since(start))
	if s, ok := o.Store.(xregion.Stager); ok {
		n, err := s.Staged(ctx)
		if err != nil {
			return fail("count staged", err)
		}
		rr.staged = &n
	}
	if o.Router != nil {
		if !fresh { // Open has just read it
			if err := o.Router.Refresh(ctx); err != nil {
				return fail("read ownership", err)
			}
		}
		rr.ownership = ownership(o.Router.Owners())
	}
	rr.watermarks = make([]xregion.Position, len(m.file.Regions))
	for j, peer := range m.file.Regions {
		if j == i {
			continue
		}
		wm, err := o.Store.Watermark(ctx, peer.Name)
		if err != nil {
			return fail("read watermark", err)
		}
		rr.watermarks[j] = wm
	}
	rr.store.Status, rr.store.Reason = StatusUp, ""
	return rr
}

// readLink measures the link from → to, whose reads are done: from's
// changes past to's watermark of from.
func (m *Monitor) readLink(ctx context.Context, l *Link, from, to regionRead) {
	l.Tier, l.TargetMS = m.tier.Name, m.tier.RPO.Milliseconds()
	l.Status = LinkUnknown
	switch {
	case from.opened == nil:
		l.Reason = string(l.From) + ": " + from.store.Reason
		return
	case to.opened == nil:
		l.Reason = string(l.To) + ": " + to.store.Reason
		return
	}
	wm := to.watermarks[m.index(l.From)]
	b, err := from.opened.Store.Backlog(ctx, wm, l.From)
	if err != nil {
		why := reason(ctx, err)
		m.opts.logger.Warn("status: read backlog", "from", l.From, "to", l.To, "reason", why, "err", err)
		l.Reason = string(l.From) + ": " + why
		return
	}
	rpo := b.Age()
	l.RPOMS, l.Pending, l.PendingBytes = ms(rpo), &b.Changes, &b.Bytes
	l.Status = LinkOK
	// A target of 0 is missed by any pending change, however young.
	if rpo > m.tier.RPO || (m.tier.RPO == 0 && b.Changes > 0) {
		l.Status = LinkOverTarget
	}
}

// ownership summarises an ownership map by home region.
func ownership(owners []partition.Ownership) *Ownership {
	o := &Ownership{Partitions: len(owners), Homes: []Home{}}
	for _, w := range owners {
		if w.Home == "" {
			o.Unassigned++
			continue
		}
		k := slices.IndexFunc(o.Homes, func(h Home) bool { return h.Region == w.Home })
		if k < 0 {
			o.Homes = append(o.Homes, Home{Region: w.Home})
			k = len(o.Homes) - 1
		}
		o.Homes[k].Partitions++
		o.Homes[k].MaxEpoch = max(o.Homes[k].MaxEpoch, w.Epoch)
	}
	slices.SortFunc(o.Homes, func(a, b Home) int { return cmp.Compare(a.Region, b.Region) })
	return o
}
