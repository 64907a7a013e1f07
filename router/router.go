package router

import (
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
)

// Region is one region a Router sends to: its name, as the Detector that
// watches it reports it (health.Transition.Target), and the scheme and host
// that requests are rewritten to.
type Region struct {
	Name xregion.Region
	URL  *url.URL // scheme and host only, e.g. https://api.eu.example.com
}

// Router chooses the region requests go to from the verdicts it is given
// (Observe, SetUp): the most preferred region that is up and, if it came
// back up, has stayed up for the hold-down. A Router is safe for concurrent
// use.
type Router struct {
	regions  []Region // in preference order
	index    map[xregion.Region]int
	holdDown time.Duration
	wall     xregion.WallClock
	logger   *slog.Logger

	mu struct {
		sync.Mutex
		state []state // by index of regions
		last  int     // the index Current last returned, to log changes
	}
}

// state is the router's view of one region.
type state struct {
	up bool
	// upSince is when a region that had been down was seen up again; the
	// zero time for a region never seen down, which is eligible at once.
	upSince time.Time
}

// New returns a Router over regions, given in preference order: at least
// one, with distinct valid names and URLs that have a scheme (http or
// https) and a host and nothing else. Every region starts up and eligible,
// so the first one is current. Options: WithHoldDown, WithWallClock,
// WithLogger.
func New(regions []Region, opts ...Option) (*Router, error) {
	if len(regions) == 0 {
		return nil, fmt.Errorf("router: new: %w", invalid("regions", "none; want at least one, in preference order"))
	}
	r := &Router{regions: make([]Region, len(regions)), index: make(map[xregion.Region]int, len(regions))}
	for i, reg := range regions {
		if err := reg.Name.Validate(); err != nil {
			return nil, fmt.Errorf("router: new: %w", err)
		}
		if j, dup := r.index[reg.Name]; dup {
			return nil, fmt.Errorf("router: new: %w", invalid(fmt.Sprintf("region %q", reg.Name),
				fmt.Sprintf("named twice (positions %d and %d); want distinct names", j, i)))
		}
		if err := checkURL(reg); err != nil {
			return nil, fmt.Errorf("router: new: %w", err)
		}
		u := *reg.URL
		r.regions[i] = Region{Name: reg.Name, URL: &u}
		r.index[reg.Name] = i
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("router: new: %w", err)
	}
	r.holdDown, r.wall, r.logger = c.holdDown, c.wall, c.logger
	r.mu.state = make([]state, len(regions))
	for i := range r.mu.state {
		r.mu.state[i].up = true
	}
	return r, nil
}

func checkURL(reg Region) error {
	what := fmt.Sprintf("URL of region %q", reg.Name)
	u := reg.URL
	switch {
	case u == nil:
		return invalid(what, "nil; want scheme and host, e.g. https://api.eu.example.com")
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid(what, fmt.Sprintf("scheme %q; want http or https", u.Scheme))
	case u.Host == "":
		return invalid(what, "no host; want scheme and host, e.g. https://api.eu.example.com")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "":
		return invalid(what, fmt.Sprintf("%q has more than a scheme and host; requests keep their own path and query", u.Redacted()))
	}
	return nil
}

// Regions returns the regions in preference order.
func (r *Router) Regions() []Region {
	out := make([]Region, len(r.regions))
	for i, reg := range r.regions {
		u := *reg.URL
		out[i] = Region{Name: reg.Name, URL: &u}
	}
	return out
}

// Observe applies a Detector's verdict on the region named t.Target, so a
// Router can be wired as health.WithTransition(r.Observe). A target that
// names no region of the Router is ignored and logged as a warning: a
// callback has no one to return an error to.
func (r *Router) Observe(t health.Transition) {
	if err := r.SetUp(xregion.Region(t.Target), t.Up); err != nil {
		r.logger.Warn("router: verdict on an unknown region ignored", "target", t.Target, "up", t.Up)
	}
}

// SetUp records that region is up or down. The hold-down starts when a
// region that was down is set up, on the Router's clock (not the time the
// verdict was reached); setting a region to what it already is changes
// nothing. It returns an *xregion.InvalidError, and changes nothing, if
// region is not one of the Router's.
func (r *Router) SetUp(region xregion.Region, up bool) error {
	i, ok := r.index[region]
	if !ok {
		return fmt.Errorf("router: set up: %w", invalid(fmt.Sprintf("region %q", region), "not one of the router's regions"))
	}
	now := r.wall.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.mu.state[i]
	if s.up == up {
		return nil
	}
	s.up = up
	if up {
		s.upSince = now
	}
	r.logger.Info("router: region verdict", "region", region, "up", up)
	r.currentLocked(now) // log a change of region at once, not at the next request
	return nil
}

// Current returns the region requests go to now: the first region, in
// preference order, that is up and not held down; failing that, the first
// that is up (held down or not: better than one known down); failing that,
// when every region is down, the most preferred one.
func (r *Router) Current() xregion.Region { return r.regions[r.current()].Name }

func (r *Router) current() int {
	now := r.wall.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.currentLocked(now)
}

func (r *Router) currentLocked(now time.Time) int {
	i := r.chooseLocked(now, -1)
	if i != r.mu.last {
		r.logger.Info("router: current region changed", "from", r.regions[r.mu.last].Name, "to", r.regions[i].Name)
		r.mu.last = i
	}
	return i
}

// alternative returns the region a request that failed on region failed
// is retried on: the one Current would choose if failed were down, and
// false if there is no other region.
func (r *Router) alternative(failed int) (int, bool) {
	if len(r.regions) < 2 {
		return 0, false
	}
	now := r.wall.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chooseLocked(now, failed), true
}

// chooseLocked applies Current's rule, treating region skip (if not -1) as
// down; with every other region down it returns the most preferred one
// other than skip.
func (r *Router) chooseLocked(now time.Time, skip int) int {
	firstUp, fallback := -1, -1
	for i, s := range r.mu.state {
		if i == skip {
			continue
		}
		if fallback < 0 {
			fallback = i
		}
		if !s.up {
			continue
		}
		if s.upSince.IsZero() || now.Sub(s.upSince) >= r.holdDown {
			return i
		}
		if firstUp < 0 {
			firstUp = i
		}
	}
	if firstUp >= 0 {
		return firstUp
	}
	return fallback
}
