package router

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xregion/xregion"
)

// DefaultHoldDown is how long a region that came back up must stay up
// before traffic moves back to it.
const DefaultHoldDown = 60 * time.Second

// Option configures a Router (New).
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	errs     []error
	holdDown time.Duration
	wall     xregion.WallClock
	logger   *slog.Logger
}

func newConfig(opts []Option) (config, error) {
	c := config{
		holdDown: DefaultHoldDown,
		wall:     xregion.SystemClock{},
		logger:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("nil option"))
			continue
		}
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return c, invalid("router options", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// invalid is the error of bad input: it wraps xregion.ErrInvalid.
func invalid(what, reason string) error { return &xregion.InvalidError{What: what, Reason: reason} }

// WithHoldDown keeps traffic off a region that came back up until it has
// stayed up for d (0 or more; 0 moves traffic back at once). Default
// DefaultHoldDown.
func WithHoldDown(d time.Duration) Option {
	return option(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithHoldDown: negative duration %v; want 0 or more, e.g. %v", d, DefaultHoldDown))
			return
		}
		c.holdDown = d
	})
}

// WithWallClock sets the clock the hold-down is measured on. Default
// xregion.SystemClock.
func WithWallClock(w xregion.WallClock) Option {
	return option(func(c *config) {
		if w == nil {
			c.errs = append(c.errs, errors.New("WithWallClock: nil clock; pass xregion.SystemClock{} for the real one"))
			return
		}
		c.wall = w
	})
}

// WithLogger logs changes of the current region, retries on another
// region, and verdicts about unknown regions that Observe ignores. Default:
// nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("WithLogger: nil logger"))
			return
		}
		c.logger = l
	})
}
