package regiontest_test

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// echoServer starts a TCP server that sends back whatever it receives. The
// returned stop closes it and waits for its goroutines; it also runs at
// cleanup.
func echoServer(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// newProxy starts a proxy to upstream, closed at cleanup.
func newProxy(t *testing.T, upstream string) *regiontest.Proxy {
	t.Helper()
	p, err := regiontest.NewProxy(upstream)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// dial connects to addr, closed at cleanup.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg on c, reads the echo and returns how long that took.
func roundTrip(t *testing.T, c net.Conn, msg string) time.Duration {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	start := time.Now()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.Equal(t, msg, string(buf))
	return elapsed
}

// recorder is a testing.TB that records a skip or a fatal failure instead of
// ending the test, so tests can check when this package gives up. Everything
// else (Cleanup, Logf, ...) goes to the real test.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	failed  string
}

// catch runs fn with a recorder in a goroutine of its own, since the
// recorder ends that goroutine as the real t would end the test.
func catch(t testing.TB, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) { r.end(&r.skipped, fmt.Sprint(args...)) }

func (r *recorder) Skipf(format string, args ...any) { r.end(&r.skipped, fmt.Sprintf(format, args...)) }

func (r *recorder) SkipNow() { r.end(&r.skipped, "SkipNow") }

func (r *recorder) Fatal(args ...any) { r.end(&r.failed, fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) { r.end(&r.failed, fmt.Sprintf(format, args...)) }

func (r *recorder) FailNow() { r.end(&r.failed, "FailNow") }

func (r *recorder) end(field *string, msg string) {
	r.mu.Lock()
	*field = msg
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) result() (skipped, failed string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped, r.failed
}
