package bridge_test

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// procNet is the network between one bridge process and the clusters it
// dials (bridge.WithDial), with the faults a test needs of a single process:
// Kill drops every connection, as a crash does; Cut leaves them open but
// carries nothing either way, and Heal delivers what was held, as TCP
// retransmission would after a partition heals. While cut, what the process
// writes is held after it has left the process, so the process cannot tell
// a request that is held from one the broker is slow to answer. It is safe
// for concurrent use.
type procNet struct {
	healed atomic.Pointer[chan struct{}] // non-nil while cut, closed by Heal
	mu     struct {
		sync.Mutex
		conns   []*procConn
		blocked bool // Kill(true): new connections fail
	}
}

func (n *procNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	blocked := n.mu.blocked
	n.mu.Unlock()
	if blocked {
		return nil, errors.New("crashed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	pc := &procConn{Conn: c, n: n, closed: make(chan struct{})}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.blocked {
		c.Close()
		return nil, errors.New("crashed")
	}
	n.mu.conns = append(n.mu.conns, pc)
	return pc, nil
}

// Kill drops every connection with a RST; with block, new ones fail too, so
// the process cannot even leave its group, as after a kill -9.
func (n *procNet) Kill(block bool) {
	n.mu.Lock()
	n.mu.blocked = n.mu.blocked || block
	conns := n.mu.conns
	n.mu.conns = nil
	n.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Conn.Close()
		c.markClosed()
	}
}

// Cut stops all traffic of the process, on open connections and new ones.
func (n *procNet) Cut() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.healed.Load() == nil {
		ch := make(chan struct{})
		n.healed.Store(&ch)
	}
}

// Heal ends a Cut: each connection first delivers, in order, what the
// process wrote meanwhile, then carries traffic again; connections the
// process closed meanwhile deliver theirs and close.
func (n *procNet) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	healed := n.healed.Load()
	if healed == nil {
		return
	}
	for _, c := range n.mu.conns {
		c.mu.Lock() // writes wait until the held bytes are out
	}
	for _, c := range n.mu.conns {
		c.Conn.Write(c.mu.held)
		c.mu.held = nil
		if c.mu.closing {
			c.Conn.Close()
		}
	}
	n.healed.Store(nil)
	close(*healed)
	for _, c := range n.mu.conns {
		c.mu.Unlock()
	}
	n.mu.conns = slices.DeleteFunc(n.mu.conns, func(c *procConn) bool { return c.mu.closing })
}

// cut returns the channel Heal closes, nil when traffic flows.
func (n *procNet) cut() chan struct{} {
	if ch := n.healed.Load(); ch != nil {
		return *ch
	}
	return nil
}

// procConn is one connection of the process.
type procConn struct {
	net.Conn
	n         *procNet
	closed    chan struct{}
	closeOnce sync.Once
	mu        struct {
		sync.Mutex
		held     []byte    // written while cut
		closing  bool      // closed by the process while cut: closes on Heal
		deadline time.Time // the read deadline
	}
}

func (c *procConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closing {
		return 0, net.ErrClosed
	}
	if c.n.cut() != nil {
		c.mu.held = append(c.mu.held, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// Read holds what arrives while the process is cut off until Heal.
func (c *procConn) Read(b []byte) (int, error) {
	if err := c.pass(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		if err := c.pass(); err != nil {
			return 0, err
		}
	}
	return n, err
}

// pass waits while the process is cut off, until Heal, the read deadline
// or Close.
func (c *procConn) pass() error {
	for {
		healed := c.n.cut()
		if healed == nil {
			return nil
		}
		c.mu.Lock()
		deadline := c.mu.deadline
		c.mu.Unlock()
		var expired <-chan time.Time
		if !deadline.IsZero() {
			tm := time.NewTimer(time.Until(deadline))
			defer tm.Stop()
			expired = tm.C
		}
		select {
		case <-healed:
		case <-c.closed:
			return net.ErrClosed
		case <-expired:
			return os.ErrDeadlineExceeded
		}
	}
}

func (c *procConn) SetDeadline(t time.Time) error {
	c.setReadDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *procConn) SetReadDeadline(t time.Time) error {
	c.setReadDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *procConn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.deadline = t
}

// Close closes the connection, except that what it holds is still
// delivered on Heal, as the kernel sends what was written before a close.
func (c *procConn) Close() error {
	c.markClosed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n.cut() != nil && len(c.mu.held) > 0 {
		c.mu.closing = true
		return nil
	}
	c.mu.closing = true
	return c.Conn.Close()
}

func (c *procConn) markClosed() { c.closeOnce.Do(func() { close(c.closed) }) }
