package replicate_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// sizeLimited is a peer whose server refuses batches over limit bytes of
// keys and values, as a server with a smaller message limit would; it
// records the largest batch it was sent. With gate set, the first Stage
// closes entered and waits until the gate closes.
type sizeLimited struct {
	peerStore
	limit   int
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
	mu      sync.Mutex
	max     int
}

func (s *sizeLimited) check(ws []xregion.Write) error {
	n := 0
	for _, w := range ws {
		n += len(w.Record.Key) + len(w.Record.Value)
	}
	s.mu.Lock()
	s.max = max(s.max, n)
	s.mu.Unlock()
	if n > s.limit {
		return fmt.Errorf("batch of %d bytes: %w", n, xregion.ErrTooLarge)
	}
	return nil
}

func (s *sizeLimited) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	if err := s.check(b.Writes); err != nil {
		return xregion.Result{}, err
	}
	return s.peerStore.Apply(ctx, b)
}

func (s *sizeLimited) Stage(ctx context.Context, from xregion.Region, ws []xregion.Write) error {
	if s.gate != nil {
		s.once.Do(func() {
			close(s.entered)
			<-s.gate
		})
	}
	if err := s.check(ws); err != nil {
		return err
	}
	return s.peerStore.Stage(ctx, from, ws)
}

func (s *sizeLimited) largest() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// A batch the peer refuses as too large is split until it fits, instead of
// being sent again as it was, forever.
func TestAsync_SplitsABatchRefusedForSize(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	peer := &sizeLimited{peerStore: peerStore{b.store}, limit: 1 << 20}
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{peer}, replicate.WithMaxBackoff(50*time.Millisecond))
	require.NoError(t, err)
	defer rep.Close()
	big := strings.Repeat("x", 100<<10)
	var ws []xregion.Write
	for i := range 20 {
		ws = append(ws, order(key(i), big))
	}
	require.NoError(t, rep.Write(t.Context(), ws...), "2 MB committed locally in one transaction")
	eventuallyAll(t, b.store, 20, big)
	require.Greater(t, peer.largest(), peer.limit, "the first batch was refused")
}

// WithMaxBatchBytes bounds what one batch carries, whatever its count.
func TestAsync_MaxBatchBytes(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	peer := &sizeLimited{peerStore: peerStore{b.store}, limit: 1 << 30}
	const bound = 300 << 10
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{peer}, replicate.WithMaxBatchBytes(bound))
	require.NoError(t, err)
	defer rep.Close()
	big := strings.Repeat("x", 100<<10)
	var ws []xregion.Write
	for i := range 20 {
		ws = append(ws, order(key(i), big))
	}
	require.NoError(t, rep.Write(t.Context(), ws...))
	eventuallyAll(t, b.store, 20, big)
	require.LessOrEqual(t, peer.largest(), bound, "no batch above WithMaxBatchBytes")
}

// eventuallyAll waits until st holds keys 0 to n-1 with value v.
func eventuallyAll(t *testing.T, st xregion.Store, n int, v string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for i := range n {
			r, err := st.Get(context.Background(), "orders", key(i))
			if err != nil || string(r.Value) != v {
				return false
			}
		}
		return true
	}, 20*time.Second, 5*time.Millisecond, "%s never held all %d keys", st.Region(), n)
}

// A synchronous batch the peer refuses as too large is split too: the
// writes that queued behind a slow staging share one batch, too large for
// the peer, and each still gets staged.
func TestSync_SplitsABatchRefusedForSize(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	peer := &sizeLimited{peerStore: peerStore{b.store}, limit: 250 << 10, gate: make(chan struct{}), entered: make(chan struct{})}
	rep, err := replicate.NewSync(a.store, a.clock, []xregion.Store{peer}, replicate.WithMaxInFlight(1))
	require.NoError(t, err)
	defer rep.Close()
	var open sync.Once
	defer open.Do(func() { close(peer.gate) })
	big := strings.Repeat("x", 100<<10)
	errs := make(chan error, 9)
	write := func(i int) { errs <- rep.Write(t.Context(), order(key(i), big)) }
	go write(0)
	<-peer.entered // the first write holds the only slot
	for i := 1; i < 9; i++ {
		go write(i)
	}
	// The next write waits for the slot, the other seven queue behind it.
	require.Eventually(t, func() bool { return replicate.QueuedPeer(rep, 0) == 7 }, 10*time.Second, time.Millisecond)
	open.Do(func() { close(peer.gate) })
	for range 9 {
		require.NoError(t, <-errs)
	}
	require.Greater(t, peer.largest(), peer.limit, "the queued writes went as one batch, refused")
	_, err = b.store.(xregion.Stager).ApplyStaged(t.Context())
	require.NoError(t, err)
	eventuallyAll(t, b.store, 9, big)
}
