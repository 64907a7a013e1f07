package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/xregion/xregion"
)

// Handler answers GET (and HEAD) /health with a Report of its region: 200
// when UP, 503 when DEGRADED or DOWN, 405 for other methods. It runs its
// checks at most once per cache period, however many requests arrive. A
// Handler is safe for concurrent use.
type Handler struct {
	region   xregion.Region
	checks   []check
	lags     []lagSource
	cacheFor time.Duration
	wall     xregion.WallClock
	logger   *slog.Logger

	mu struct {
		sync.Mutex
		report  Report
		ranAt   time.Time     // on wall; zero before the first round
		running chan struct{} // non-nil while a round runs; closed when done
	}
}

// New returns a Handler for region. Options: WithCheck, WithStore,
// WithKafka, WithLag, WithCacheFor, WithWallClock, WithLogger.
func New(region xregion.Region, opts ...Option) (*Handler, error) {
	if err := region.Validate(); err != nil {
		return nil, fmt.Errorf("health: new handler: %w", err)
	}
	c, err := newConfig(forHandler, region, opts)
	if err != nil {
		return nil, fmt.Errorf("health: new handler: %w", err)
	}
	seen := make(map[string]bool)
	for _, ch := range c.checks {
		if seen[ch.name] {
			return nil, fmt.Errorf("health: new handler: %w", invalid("health checks", fmt.Sprintf("two named %q; give each its own name", ch.name)))
		}
		seen[ch.name] = true
	}
	return &Handler{region: region, checks: c.checks, lags: c.lags, cacheFor: c.cacheFor, wall: c.wall, logger: c.logger}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rep, err := h.Report(r.Context())
	if err != nil {
		return // the client went away
	}
	body, err := json.Marshal(rep)
	if err != nil {
		h.logger.Error("health: encode report", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	code := http.StatusOK
	if rep.Status != StatusUp {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		w.Write(append(body, '\n'))
	}
}

// Report returns the latest report, running the checks if the cached one is
// older than the cache period. Concurrent callers share one round. It
// returns ctx's error if ctx ends first; the round goes on for the others.
func (h *Handler) Report(ctx context.Context) (Report, error) {
	h.mu.Lock()
	if !h.mu.ranAt.IsZero() && h.wall.Now().Sub(h.mu.ranAt) < h.cacheFor {
		rep := h.mu.report
		h.mu.Unlock()
		return rep, nil
	}
	running := h.mu.running
	if running == nil {
		running = make(chan struct{})
		h.mu.running = running
		// Not on ctx: the round serves every caller waiting on it.
		go h.round(context.WithoutCancel(ctx), running)
	}
	h.mu.Unlock()
	select {
	case <-ctx.Done():
		return Report{}, ctx.Err()
	case <-running:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.report, nil
}

// round runs every check and Lagger concurrently, then publishes the report.
func (h *Handler) round(ctx context.Context, done chan struct{}) {
	results := make([]CheckResult, len(h.checks))
	links := make([][]LinkReport, len(h.lags))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() { results[i] = h.run(ctx, c) })
	}
	now := h.wall.Now()
	lagFailed := make([]bool, len(h.lags))
	for i, l := range h.lags {
		wg.Go(func() { links[i], lagFailed[i] = h.lag(ctx, l, now) })
	}
	wg.Wait()

	rep := Report{Region: h.region, Timestamp: now.UTC().Format(time.RFC3339Nano),
		Checks: make(map[string]CheckResult, len(h.checks)), Replication: []LinkReport{}}
	for i, c := range h.checks {
		rep.Checks[c.name] = results[i]
	}
	for i, l := range links {
		rep.Replication = append(rep.Replication, l...)
		if lagFailed[i] {
			// A tier whose lag cannot be read is reported as a check of
			// its own, which degrades but does not take the region down.
			rep.Checks["replication:"+h.lags[i].tier] = CheckResult{Status: StatusDown, Reason: ReasonError}
		}
	}
	rep.Status = verdict(rep.Checks, rep.Replication)

	h.mu.Lock()
	h.mu.report, h.mu.ranAt, h.mu.running = rep, h.wall.Now(), nil
	h.mu.Unlock()
	close(done)
}

// run runs one check within its timeout. A check that ignores its context
// is abandoned at the timeout: its goroutine ends when it returns.
func (h *Handler) run(ctx context.Context, c check) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now() // latency is real time, whatever the wall clock
	errc := make(chan error, 1)
	go func() { errc <- c.fn(ctx) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	res := CheckResult{Status: StatusUp, Critical: c.critical, LatencyMS: msSince(start)}
	if err != nil {
		res.Status, res.Reason = StatusDown, ReasonError
		if timedOut(ctx, err) {
			res.Reason = ReasonTimeout
		}
		h.logger.Warn("health: check failed", "check", c.name, "critical", c.critical, "reason", res.Reason, "err", err)
	}
	return res
}

func (h *Handler) lag(ctx context.Context, l lagSource, now time.Time) ([]LinkReport, bool) {
	ctx, cancel := context.WithTimeout(ctx, DefaultCheckTimeout)
	defer cancel()
	lags, err := l.lagger.Lag(ctx)
	if err != nil {
		h.logger.Warn("health: read replication lag", "tier", l.tier, "err", err)
		return nil, true
	}
	out := make([]LinkReport, 0, len(lags))
	for _, pl := range lags {
		if pl.Err != nil {
			h.logger.Warn("health: replication link failing", "tier", l.tier, "peer", pl.Peer, "err", pl.Err)
		}
		out = append(out, linkReport(l.tier, l.target, pl, now))
	}
	return out, false
}

// timedOut tells a check that ran out of time from one that failed: a
// network deadline set from ctx's may fire a moment before ctx ends.
func timedOut(ctx context.Context, err error) bool {
	var ne interface{ Timeout() bool }
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
