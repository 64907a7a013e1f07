package memstore

import (
	"context"
	"sync"

	"github.com/xregion/xregion"
)

var _ xregion.Leaser = (*Store)(nil)

// TryLease implements xregion.Leaser for the holders in this process: a
// memstore lives in one process, so its leases do too.
func (s *Store) TryLease(ctx context.Context, name string) (xregion.Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.leases.Lock()
	defer s.leases.Unlock()
	if s.leases.held == nil {
		s.leases.held = map[string]bool{}
	}
	if s.leases.held[name] {
		return nil, false, nil
	}
	s.leases.held[name] = true
	l := &lease{lost: make(chan struct{})}
	l.release = func() {
		s.leases.Lock()
		defer s.leases.Unlock()
		delete(s.leases.held, name)
		close(l.lost)
	}
	return l, true, nil
}

type lease struct {
	lost    chan struct{}
	once    sync.Once
	release func()
}

func (l *lease) Lost() <-chan struct{} { return l.lost }
func (l *lease) Release()              { l.once.Do(l.release) }
