package regiontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sizes of what a Proxy holds per connection and direction: it reads up to
// chunkSize bytes at a time and queues at most queueLen chunks (2 MiB) before
// it stops reading, so a blackholed or slow link pushes back on the sender as
// a full TCP window would.
const (
	chunkSize = 32 << 10
	queueLen  = 64
)

// Proxy is a TCP proxy that injects the faults of a network between regions:
// latency, a network split (Blackhole) and dropped connections (Reset). It
// forwards each connection accepted on Addr to its upstream, really delaying
// and holding the bytes, so the code under test sees the timeouts and errors
// it would see in production. It counts the bytes it carries (Carried). A
// Proxy is safe for concurrent use.
type Proxy struct {
	upstream string
	ln       net.Listener
	latency  atomic.Int64    // one-way, in nanoseconds
	carried  [2]atomic.Int64 // bytes delivered, by direction (carriedTo…)
	wg       sync.WaitGroup
	mu       struct {
		sync.Mutex
		held   chan struct{} // non-nil while blackholed; Heal closes it
		links  map[*link]struct{}
		closed bool
	}
}

// NewProxy starts a proxy listening on 127.0.0.1 at a free port that
// forwards to upstream: "host:port", or the path of a Unix socket (starting
// with '/'). It dials upstream once per accepted connection; nothing is
// checked up front. Close it when done.
func NewProxy(upstream string) (*Proxy, error) {
	if upstream == "" {
		return nil, errors.New("regiontest: new proxy: empty upstream; want host:port or a Unix socket path")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("new proxy: listen: %w", err)
	}
	p := &Proxy{upstream: upstream, ln: ln}
	p.mu.links = make(map[*link]struct{})
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the address clients connect to, as "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetLatency delays every chunk of bytes by oneWay in each direction, so a
// round trip costs twice as much. It applies to bytes that arrive after the
// call; bytes already queued keep the delay they were given. Latency is
// pipelined, as on a long cable: many chunks can be in flight at once, so it
// slows each exchange without capping throughput. A chunk leaves a little
// after its time: on Linux, at the median 0.13 ms late on a 2-core VM (see
// waiter); elsewhere Go's timers make that about 0.5 ms. Negative counts as
// zero.
func (p *Proxy) SetLatency(oneWay time.Duration) { p.latency.Store(int64(max(oneWay, 0))) }

// Latency returns the one-way latency set by SetLatency.
func (p *Proxy) Latency() time.Duration { return time.Duration(p.latency.Load()) }

// The directions of Carried's counters.
const (
	carriedToServer = iota
	carriedToClient
)

// Carried returns how many bytes the proxy has delivered since it started
// or since ResetCarried, on all its connections: toServer from clients to
// the upstream, toClient back. Bytes held by a blackhole or a delay count
// once they are passed on, and before the receiver can read them, so a
// client that has its answer finds it counted. It is what a link between
// regions would carry above TCP: TLS records and the protocol's framing
// included, TCP and IP headers not.
func (p *Proxy) Carried() (toServer, toClient int64) {
	return p.carried[carriedToServer].Load(), p.carried[carriedToClient].Load()
}

// ResetCarried sets Carried's counters to zero. Bytes passed on while it
// runs may count in one direction's new figure and the other's old one.
func (p *Proxy) ResetCarried() {
	p.carried[carriedToServer].Store(0)
	p.carried[carriedToClient].Store(0)
}

// Blackhole stops forwarding in both directions, on open connections and on
// new ones, which are accepted but not passed on: as in a network split,
// bytes vanish without an error, and a client only notices through its own
// timeouts. The proxy holds what it receives (pushing back on the sender once
// its queues are full) until Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.held == nil {
		p.mu.held = make(chan struct{})
	}
}

// Heal ends a Blackhole: held bytes are delivered, in order, as TCP would
// retransmit them once the network returned, and connections accepted
// meanwhile are dialed upstream. The latency stays as set.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.held != nil {
		close(p.mu.held)
		p.mu.held = nil
	}
}

// Reset drops every open connection abruptly, on both sides, with a TCP RST
// where the socket allows it: what clients see when a server or a middlebox
// between regions crashes. Connections made afterwards are forwarded as
// before, so a pool reconnects. A blackhole stays in place.
func (p *Proxy) Reset() {
	for _, l := range p.snapshot() {
		l.close(true)
	}
}

// Close stops listening, closes every connection and waits until all of the
// proxy's goroutines have returned. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	p.mu.Unlock()

	err := p.ln.Close()
	for _, l := range p.snapshot() {
		l.close(false)
	}
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("close proxy: %w", err)
	}
	return nil
}

func (p *Proxy) snapshot() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	links := make([]*link, 0, len(p.mu.links))
	for l := range p.mu.links {
		links = append(links, l)
	}
	return links
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors and the like: the condition may pass,
			// and a proxy that stops accepting would look like a partition.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l := p.track(c)
		if l == nil {
			c.Close()
			return
		}
		p.wg.Go(func() { p.serve(l) })
	}
}

// track registers a new connection, or returns nil once Close has begun.
func (p *Proxy) track(client net.Conn) *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &link{ctx: ctx, cancel: cancel, client: client}
	p.mu.links[l] = struct{}{}
	return l
}

func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.mu.links, l)
}

// serve forwards one accepted connection until both directions have ended or
// the link is closed.
func (p *Proxy) serve(l *link) {
	defer p.forget(l)
	defer l.close(false)

	// Dial only once the network is up: a connection made during a partition
	// never reaches the server, and does not take one of its connection slots.
	if !p.open(l.ctx) {
		return
	}
	network := "tcp"
	if strings.HasPrefix(p.upstream, "/") {
		network = "unix"
	}
	var d net.Dialer
	server, err := d.DialContext(l.ctx, network, p.upstream)
	if err != nil {
		l.close(true) // as a refused connection looks to the client
		return
	}
	if !l.setServer(server) {
		server.Close()
		return
	}

	var wg sync.WaitGroup
	for _, dir := range []struct {
		src, dst net.Conn
		carried  *atomic.Int64
	}{{l.client, server, &p.carried[carriedToServer]}, {server, l.client, &p.carried[carriedToClient]}} {
		q := make(chan chunk, queueLen)
		wg.Go(func() { p.read(l, dir.src, q) })
		wg.Go(func() { p.write(l, dir.dst, q, dir.carried) })
	}
	wg.Wait()
}

// chunk is what one Read returned, or the end of the stream (eof), with the
// time it may be delivered.
type chunk struct {
	data []byte
	eof  bool
	due  time.Time
}

// read stamps each chunk as it arrives and queues it. The delay is taken at
// arrival, so the writer delivers chunks as their times come instead of
// sleeping the full latency once per chunk.
func (p *Proxy) read(l *link, src net.Conn, q chan<- chunk) {
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		c := chunk{data: bytes.Clone(buf[:n]), eof: errors.Is(err, io.EOF)}
		if err != nil && !c.eof {
			l.close(true) // a reset or a local close: pass it on abruptly
			return
		}
		if n == 0 && !c.eof {
			continue
		}
		c.due = time.Now().Add(p.Latency())
		select {
		case q <- c:
		case <-l.ctx.Done():
			return
		}
		if c.eof {
			return
		}
	}
}

// write delivers queued chunks to dst, each at its due time and only while
// the proxy is not blackholed, adding what it delivers to carried; the end
// of the stream becomes a half-close.
func (p *Proxy) write(l *link, dst net.Conn, q <-chan chunk, carried *atomic.Int64) {
	w := newWaiter()
	defer w.close()
	for {
		var c chunk
		select {
		case c = <-q:
		case <-l.ctx.Done():
			return
		}
		if !w.until(l.ctx, c.due) || !p.open(l.ctx) {
			return
		}
		if len(c.data) > 0 {
			// Counted before the write, so that whoever has read the bytes
			// finds them counted; what a failed write did not deliver is
			// taken back.
			carried.Add(int64(len(c.data)))
			if n, err := dst.Write(c.data); err != nil {
				carried.Add(int64(n - len(c.data)))
				l.close(true)
				return
			}
		}
		if c.eof {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return
		}
	}
}

// open waits until the proxy is not blackholed. It reports false if ctx ended
// first.
func (p *Proxy) open(ctx context.Context) bool {
	for {
		p.mu.Lock()
		held := p.mu.held
		p.mu.Unlock()
		if held == nil {
			return ctx.Err() == nil
		}
		select {
		case <-held:
		case <-ctx.Done():
			return false
		}
	}
}

// link is one proxied connection: the client side accepted by the proxy and,
// once dialed, the server side. Closing it cancels ctx, which stops its
// goroutines wherever they wait.
type link struct {
	ctx    context.Context
	cancel context.CancelFunc
	client net.Conn
	mu     struct {
		sync.Mutex
		server net.Conn
		closed bool
	}
}

// setServer records the dialed upstream connection; false if the link was
// closed meanwhile.
func (l *link) setServer(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return false
	}
	l.mu.server = c
	return true
}

// close closes both sides once. Abrupt sets SO_LINGER to zero first, so the
// peers get a RST instead of an orderly FIN.
func (l *link) close(abrupt bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return
	}
	l.mu.closed = true
	l.cancel()
	for _, c := range []net.Conn{l.client, l.mu.server} {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok && abrupt {
			tc.SetLinger(0)
		}
		c.Close()
	}
}
