package status

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/xregion/xregion"
)

// DefaultTimeout is how long each region is given to answer, unless
// WithTimeout says otherwise.
const DefaultTimeout = 5 * time.Second

// Option configures New and Gather.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	timeout time.Duration
	client  *http.Client // nil: one of our own, closed by Close
	wall    xregion.WallClock
	logger  *slog.Logger
}

// WithTimeout gives every region d to answer (its /health and its
// database), all regions at once; a region that has not answered by then is
// reported UNREACHABLE with reason "timeout". Default DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.timeout = d })
}

// WithHTTPClient fetches the /health endpoints with c, for its TLS
// settings or proxy. Requests still end at the timeout. Default: a client
// of its own, whose idle connections Close closes.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.client = c })
}

// WithWallClock reads the time of a report (At, and the age of each last
// contact) from w. Default xregion.SystemClock. Round trips and timeouts
// are always real time.
func WithWallClock(w xregion.WallClock) Option {
	return optionFunc(func(o *options) { o.wall = w })
}

// WithLogger logs why a region could not be read, the one place the
// errors' text goes (it may name hosts). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

func newOptions(opts []Option) (options, error) {
	o := options{timeout: DefaultTimeout, wall: xregion.SystemClock{}}
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.timeout <= 0:
		return o, invalid("timeout", "%v; want a positive duration (default %v)", o.timeout, DefaultTimeout)
	case o.wall == nil:
		return o, invalid("wall clock", "nil; leave WithWallClock out for the system clock")
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: "status " + what, Reason: fmt.Sprintf(format, args...)}
}
