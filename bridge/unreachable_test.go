package bridge_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
)

// deadAddr returns an address nothing listens on: a port the kernel handed
// out and that was closed again, so connecting is refused at once.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// logRecorder is a slog.Handler that keeps every record's level and message.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// count counts the records at level whose message starts with prefix.
func (h *logRecorder) count(level slog.Level, prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == level && strings.HasPrefix(r.Message, prefix) {
			n++
		}
	}
	return n
}

// TestBridge_UnreachableBrokers: a bridge whose clusters cannot be reached
// reports itself failing at once, with an error that says what it cannot
// reach, not standing by with nothing pending; and logs it at Warn once,
// not at every retry.
func TestBridge_UnreachableBrokers(t *testing.T) {
	t.Parallel()
	dead := deadAddr(t)
	logs := &logRecorder{}
	br, err := bridge.New([]string{dead}, []string{dead}, "bridge", []string{"orders"},
		fast(t, bridge.WithLogger(slog.New(logs)))...)
	require.NoError(t, err)
	running(t, br)

	var l bridge.Lag
	require.Eventually(t, func() bool {
		l = br.Lag()
		return l.State == xregion.LinkFailing
	}, 5*time.Second, 5*time.Millisecond, "an unreachable bridge reports failing; last: %+v", &l)
	require.Error(t, l.Err)
	require.ErrorContains(t, l.Err, "source")
	require.ErrorContains(t, l.Err, dead)
	pl, err := br.ReplicationLag(t.Context())
	require.NoError(t, err)
	require.Equal(t, xregion.LinkFailing, pl[0].State)
	require.Error(t, pl[0].Err)

	require.Eventually(t, func() bool { return logs.count(slog.LevelDebug, "bridge retrying") >= 3 },
		10*time.Second, 5*time.Millisecond, "the bridge retries")
	require.Equal(t, 1, logs.count(slog.LevelWarn, ""), "one Warn for the whole run of failures")
}

// TestBridge_UnreachableThenReachable: when the clusters answer again the
// bridge leaves the failing state by itself and logs the recovery at Info,
// once.
func TestBridge_UnreachableThenReachable(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 2)
	var down atomic.Bool
	down.Store(true)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if down.Load() {
			return nil, errors.New("test: network down")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	logs := &logRecorder{}
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithLogger(slog.New(logs)), bridge.WithDial(dial))...)
	require.NoError(t, err)
	running(t, br)

	require.Eventually(t, func() bool { return br.Lag().State == xregion.LinkFailing }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return logs.count(slog.LevelDebug, "bridge retrying") >= 3 },
		10*time.Second, 5*time.Millisecond, "the bridge retries")

	down.Store(false)
	require.Eventually(t, func() bool {
		l := br.Lag()
		return l.State == xregion.LinkShipping && l.Err == nil && len(l.Partitions) == 2
	}, 30*time.Second, 10*time.Millisecond, "the bridge recovers by itself")
	require.Equal(t, 1, logs.count(slog.LevelWarn, ""), "one Warn for the whole run of failures")
	require.Equal(t, 1, logs.count(slog.LevelInfo, "bridge recovered"), "the recovery logged at Info")
}

// TestNew_EmptyBroker: an empty broker address is refused, as an empty list
// is, rather than dialled as the local host.
func TestNew_EmptyBroker(t *testing.T) {
	ok := []string{"127.0.0.1:9092"}
	for _, tc := range []struct {
		name     string
		from, to []string
		want     string
	}{
		{"empty source", []string{""}, ok, "source brokers"},
		{"blank source among others", []string{"127.0.0.1:9092", " "}, ok, "source brokers"},
		{"empty target", ok, []string{""}, "target brokers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := bridge.New(tc.from, tc.to, "g", []string{"t"})
			require.Nil(t, b)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
