package pgstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
)

var _ xregion.Leaser = (*Store)(nil)

// leaseCheck is how often a held lease's connection is checked.
const leaseCheck = time.Second

// TryLease implements xregion.Leaser with a PostgreSQL session advisory lock
// held on a connection taken from the pool for as long as the lease lasts.
// If that connection dies, PostgreSQL releases the lock, and the lease
// reports itself lost within leaseCheck.
func (s *Store) TryLease(ctx context.Context, name string) (xregion.Lease, bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("take lease %s: %w", name, err)
	}
	key := "xregion lease " + s.schema + " " + name
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("take lease %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	l := &pgLease{conn: conn, key: key, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, true, nil
}

type pgLease struct {
	conn *pgxpool.Conn
	key  string
	lost chan struct{} // closed when lost or released
	stop chan struct{} // closed by Release
	once sync.Once     // closes lost
	rel  sync.Once     // runs Release
	done chan struct{} // closed when watch has returned
}

func (l *pgLease) Lost() <-chan struct{} { return l.lost }

// watch pings the lease's connection until Release or a failed ping.
func (l *pgLease) watch() {
	defer close(l.done)
	t := time.NewTicker(leaseCheck)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), leaseCheck)
			err := l.conn.Ping(ctx)
			cancel()
			if err != nil {
				l.once.Do(func() { close(l.lost) })
				return
			}
		}
	}
}

// Release unlocks and returns the connection to the pool; if unlocking
// fails the connection is closed, which releases the lock as well.
func (l *pgLease) Release() { l.rel.Do(l.release) }

func (l *pgLease) release() {
	close(l.stop)
	<-l.done
	l.once.Do(func() { close(l.lost) })
	ctx, cancel := context.WithTimeout(context.Background(), leaseCheck)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.key); err != nil {
		l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}
