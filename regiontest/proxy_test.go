package regiontest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

func TestNewProxy_EmptyUpstream(t *testing.T) {
	t.Parallel()
	_, err := regiontest.NewProxy("")
	require.ErrorContains(t, err, "empty upstream")
}

func TestProxy_Latency(t *testing.T) {
	t.Parallel()
	echo, _ := echoServer(t)
	p := newProxy(t, echo)
	c := dial(t, p.Addr())
	roundTrip(t, c, "warm up") // the proxy dials upstream on the first connection

	for _, oneWay := range []time.Duration{0, 20 * time.Millisecond, 0} {
		p.SetLatency(oneWay)
		require.Equal(t, oneWay, p.Latency())
		elapsed := roundTrip(t, c, "ping")
		// A round trip crosses the proxy twice.
		require.GreaterOrEqual(t, elapsed, 2*oneWay, "one-way latency %s", oneWay)
		require.Less(t, elapsed, 2*oneWay+5*time.Second, "sanity: the round trip completed")
	}

	p.SetLatency(-time.Second)
	require.Zero(t, p.Latency(), "negative latency counts as zero")
}

// TestProxy_LatencyIsPipelined sends messages spaced a few milliseconds apart,
// so each is a chunk of its own. With pipelined latency every message comes
// back about one round trip (40 ms) after it was sent. A proxy that slept the
// latency once per chunk would deliver message i only after (i+1)×20 ms, and
// the last of 40 messages would take over 600 ms to come back.
func TestProxy_LatencyIsPipelined(t *testing.T) {
	t.Parallel()
	const (
		oneWay = 20 * time.Millisecond
		n      = 40
	)
	echo, _ := echoServer(t)
	p := newProxy(t, echo)
	c := dial(t, p.Addr())
	roundTrip(t, c, "warm up")
	p.SetLatency(oneWay)
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))

	var sent [n]time.Time
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			if _, err := c.Write(binary.BigEndian.AppendUint64(nil, uint64(i))); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	var rtt [n]time.Duration
	buf := make([]byte, 8)
	for i := range n {
		_, err := io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, uint64(i), binary.BigEndian.Uint64(buf), "messages arrive in order")
		mu.Lock()
		rtt[i] = time.Since(sent[i])
		mu.Unlock()
	}
	wg.Wait()

	for i, d := range rtt {
		require.GreaterOrEqual(t, d, 2*oneWay, "message %d came back early", i)
		require.Less(t, d, 300*time.Millisecond, "message %d waited behind earlier ones: latency is serialized", i)
	}
}

func TestProxy_BlackholeHoldsBytesUntilHeal(t *testing.T) {
	t.Parallel()
	echo, _ := echoServer(t)
	p := newProxy(t, echo)
	open := dial(t, p.Addr())
	roundTrip(t, open, "before")

	p.Blackhole()
	p.Blackhole() // idempotent
	// A connection made during the partition is accepted, as the listening
	// socket is local, but goes nowhere.
	late := dial(t, p.Addr())
	for _, c := range []net.Conn{open, late} {
		_, err := c.Write([]byte("held"))
		require.NoError(t, err)
	}
	for _, c := range []net.Conn{open, late} {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
		_, err := c.Read(make([]byte, 4))
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout(), "no bytes and no error pass a blackhole, only the reader's own timeout: %v", err)
	}

	p.Heal()
	p.Heal() // idempotent
	for _, c := range []net.Conn{open, late} {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "held", string(buf), "held bytes are delivered after Heal")
		roundTrip(t, c, "after")
	}
}

func TestProxy_Reset(t *testing.T) {
	t.Parallel()
	echo, _ := echoServer(t)
	p := newProxy(t, echo)
	open := dial(t, p.Addr())
	roundTrip(t, open, "before")
	p.Blackhole()
	pending := dial(t, p.Addr()) // accepted, not yet dialed upstream
	require.Eventually(t, func() bool { return regiontest.Conns(p) == 2 }, 5*time.Second, time.Millisecond)

	p.Reset()
	for _, c := range []net.Conn{open, pending} {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err := c.Read(make([]byte, 1))
		require.ErrorIs(t, err, syscall.ECONNRESET, "an abrupt close, not an orderly EOF")
	}

	p.Heal()
	roundTrip(t, dial(t, p.Addr()), "new connections work after a reset")
}

func TestProxy_UpstreamDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := ln.Addr().String()
	require.NoError(t, ln.Close())

	p := newProxy(t, down)
	// The proxy accepts, fails to dial and resets the connection: the reset
	// can reach the client while it is still connecting, or on its first read.
	c, err := net.DialTimeout("tcp", p.Addr(), 10*time.Second)
	if err == nil {
		defer c.Close()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = c.Read(make([]byte, 1))
	}
	require.ErrorIs(t, err, syscall.ECONNRESET, "the client learns that upstream refused, without timing out")
}

// TestProxy_Carried counts an exchange with an echo server byte for byte:
// what the client sends is carried to the server, and its echo back.
func TestProxy_Carried(t *testing.T) {
	t.Parallel()
	echo, _ := echoServer(t)
	p := newProxy(t, echo)
	c := dial(t, p.Addr())
	toServer, toClient := p.Carried()
	require.Zero(t, toServer)
	require.Zero(t, toClient)

	roundTrip(t, c, "ping")
	toServer, toClient = p.Carried()
	require.EqualValues(t, 4, toServer)
	require.EqualValues(t, 4, toClient, "counted by the time the client has read it")

	p.ResetCarried()
	// 256 KiB is several chunks, queued under a delay: each counts once
	// delivered.
	p.SetLatency(5 * time.Millisecond)
	msg := string(bytes.Repeat([]byte("0123456789abcdef"), 16<<10))
	roundTrip(t, c, msg)
	roundTrip(t, dial(t, p.Addr()), "on another connection")
	toServer, toClient = p.Carried()
	want := int64(len(msg) + len("on another connection"))
	require.Equal(t, want, toServer, "summed over chunks and connections")
	require.Equal(t, want, toClient)
}

// TestProxy_Carried_PostgreSQL counts a query to PostgreSQL through a
// region's proxy: the answer's bytes reach the client, and little goes the
// other way.
func TestProxy_Carried_PostgreSQL(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s string
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT 'warm up'").Scan(&s), "connect: the handshake is not part of the exchange")

	const size = 1 << 20
	a.Proxy.ResetCarried()
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT repeat('x', $1)", size).Scan(&s))
	require.Len(t, s, size)
	toServer, toClient := a.Proxy.Carried()
	// The protocol's framing, and TLS's where the DSN negotiates it, add a
	// little to the text: well under 1 % for the answer.
	require.GreaterOrEqual(t, toClient, int64(size))
	require.Less(t, toClient, int64(size+size/100), "the answer and its framing only")
	require.Positive(t, toServer)
	require.Less(t, toServer, int64(2<<10), "the query: parse, bind, execute")
}

// TestProxy_CloseStopsGoroutines is not parallel: it counts goroutines.
func TestProxy_CloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	echo, stopEcho := echoServer(t)
	p, err := regiontest.NewProxy(echo)
	require.NoError(t, err)
	p.SetLatency(10 * time.Millisecond)

	// One connection of each kind: forwarding, holding bytes in a blackhole,
	// and accepted during the blackhole but not yet dialed upstream.
	active := dial(t, p.Addr())
	roundTrip(t, active, "x")
	held := dial(t, p.Addr())
	roundTrip(t, held, "x")
	p.Blackhole()
	_, err = held.Write([]byte("held"))
	require.NoError(t, err)
	dial(t, p.Addr())
	require.Eventually(t, func() bool { return regiontest.Conns(p) == 3 }, 5*time.Second, time.Millisecond)

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "idempotent")
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	require.Error(t, err, "a closed proxy no longer listens")
	require.NoError(t, active.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = active.Read(make([]byte, 1))
	require.Error(t, err, "Close closes open connections")

	stopEcho()
	// Not require.Eventually: it runs the condition in a goroutine of its own.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	require.LessOrEqual(t, after, before, "goroutines left running after Close")
}
