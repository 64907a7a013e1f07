package regiontest

import (
	"net"
	"sync"
)

// KafkaLink is the network between clients and a region's Kafka brokers,
// with the faults of a Proxy: a partition (Blackhole) and dropped
// connections (Reset). A Proxy cannot stand in front of Kafka, whose brokers
// advertise their own addresses in metadata, so the link sits inside the
// brokers' listeners instead: it holds the bytes each accepted connection
// reads and writes. Clients see what they would see in production: requests
// that hang until their deadlines, connections that drop. A KafkaLink is
// safe for concurrent use.
type KafkaLink struct {
	mu struct {
		sync.Mutex
		held  chan struct{} // non-nil while blackholed; Heal closes it
		conns map[*linkConn]struct{}
	}
	watch struct {
		sync.Mutex
		fns []*watcher
	}
}

func newKafkaLink() *KafkaLink {
	l := &KafkaLink{}
	l.mu.conns = make(map[*linkConn]struct{})
	return l
}

// Blackhole stops all traffic with the brokers, on open connections and on
// new ones (which are accepted, as the kernel would, and then hear nothing):
// requests vanish without an error and clients only notice through their
// own timeouts. What clients sent meanwhile is held, and delivered on Heal.
func (l *KafkaLink) Blackhole() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.held == nil {
		l.mu.held = make(chan struct{})
	}
}

// Heal ends a Blackhole: held requests reach the brokers, in order, as TCP
// would retransmit them, so a request that timed out on the client may
// still be carried out, and held answers reach the clients.
func (l *KafkaLink) Heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.held != nil {
		close(l.mu.held)
		l.mu.held = nil
	}
}

// Reset drops every open connection to the brokers with a TCP RST, as a
// broker crash or a middlebox restart would; requests in flight fail at
// once. New connections work (unless blackholed), so clients reconnect.
func (l *KafkaLink) Reset() {
	l.mu.Lock()
	conns := make([]*linkConn, 0, len(l.mu.conns))
	for c := range l.mu.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// listen is the brokers' listen function (kfake.ListenFn).
func (l *KafkaLink) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &linkListener{Listener: ln, link: l}, nil
}

// pass waits until the link is not blackholed; false if c closed first.
func (l *KafkaLink) pass(c *linkConn) bool {
	for {
		l.mu.Lock()
		held := l.mu.held
		l.mu.Unlock()
		if held == nil {
			return true
		}
		select {
		case <-held:
		case <-c.closed:
			return false
		}
	}
}

type linkListener struct {
	net.Listener
	link *KafkaLink
}

func (ln *linkListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &linkConn{Conn: c, link: ln.link, closed: make(chan struct{}), conv: &conversation{link: ln.link}}
	ln.link.mu.Lock()
	ln.link.mu.conns[lc] = struct{}{}
	ln.link.mu.Unlock()
	return lc, nil
}

// linkConn is a broker's side of one client connection.
type linkConn struct {
	net.Conn
	link      *KafkaLink
	closeOnce sync.Once
	closed    chan struct{}
	conv      *conversation // for Watch
}

// Read holds what it read while the link is blackholed: bytes that arrive
// during a partition reach the broker only when it heals.
func (c *linkConn) Read(b []byte) (int, error) {
	if !c.link.pass(c) {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !c.link.pass(c) {
		return 0, net.ErrClosed
	}
	c.conv.read(b[:n])
	return n, err
}

func (c *linkConn) Write(b []byte) (int, error) {
	if !c.link.pass(c) {
		return 0, net.ErrClosed
	}
	c.conv.wrote(b)
	return c.Conn.Write(b)
}

func (c *linkConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.link.mu.Lock()
		delete(c.link.mu.conns, c)
		c.link.mu.Unlock()
	})
	return c.Conn.Close()
}
