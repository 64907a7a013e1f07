package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xregion/xregion/bridge"
	"github.com/xregion/xregion/regiontest"
)

// crashDialer hands out the connections of one bridge process, so a test
// can drop them all at once, as a crash would.
type crashDialer struct {
	mu      sync.Mutex
	conns   []net.Conn
	blocked bool
}

func (d *crashDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	blocked := d.blocked
	d.mu.Unlock()
	if blocked {
		return nil, errors.New("crashed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blocked {
		c.Close()
		return nil, errors.New("crashed")
	}
	d.conns = append(d.conns, c)
	return c, nil
}

// kill drops every connection with a RST; with block, new ones fail too, so
// the process cannot even leave its group, as after a kill -9.
func (d *crashDialer) kill(block bool) {
	d.mu.Lock()
	d.blocked = d.blocked || block
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// instance is one bridge process that a test crashes.
type instance struct {
	dialer   *crashDialer
	cancel   context.CancelFunc
	done     chan error
	crashed  chan struct{}
	assigned chan struct{} // closed once the process holds partitions
	once     sync.Once
	assign   sync.Once
	plan     crashPlan
	hard     bool
	byPlan   atomic.Bool
}

// crash drops the process's connections and cancels it, without waiting:
// hooks call it from the bridge's own goroutines. With hard, or if the
// instance was started hard, it also refuses new connections, so the
// process sends nothing more (no last commit, no leaving the group), as
// after a kill -9.
func (in *instance) crash(hard bool) {
	in.once.Do(func() {
		in.dialer.kill(in.hard || hard)
		in.cancel()
		close(in.crashed)
	})
}

// crashPlan says where an instance crashes.
type crashPlan struct {
	name  string
	after int // crash at the after-th time the hook is reached
}

var plans = []string{"after publish, before commit", "between batches", "before commit", "on assignment", "at a random time"}

func startInstance(t *testing.T, a, b *regiontest.Region, plan crashPlan, hard bool) *instance {
	in := &instance{dialer: &crashDialer{}, done: make(chan error, 1), crashed: make(chan struct{}),
		assigned: make(chan struct{}), plan: plan, hard: hard}
	var n atomic.Int64
	at := func(name string) func() {
		return func() {
			// A crash at a hook is always hard: a soft one would still send
			// the generation's last commit on the way out, so "after
			// publish, before commit" would not be a crash between the two.
			if plan.name == name && n.Add(1) == int64(plan.after) {
				in.byPlan.Store(true)
				in.crash(true)
			}
		}
	}
	afterPublish, betweenBatches, beforeCommit, onAssign := at(plans[0]), at(plans[1]), at(plans[2]), at(plans[3])
	hooks := bridge.Hooks{
		AfterPublish: func(string, int) { afterPublish() },
		BeforePublish: func(_ string, _ int, batch int) {
			if batch > 0 {
				betweenBatches()
			}
		},
		BeforeCommit: func() { beforeCommit() },
		Assigned: func(string, []int) {
			in.assign.Do(func() { close(in.assigned) })
			onAssign()
		},
	}
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithDial(in.dialer.dial), bridge.WithHooks(hooks), bridge.MaxBatchBytes(16<<10),
			bridge.FetchMaxBytes(32<<10))...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- br.Run(ctx) }()
	return in
}

// wait waits for the instance to hold partitions, then to crash by its
// plan, or crashes it limit later, then waits for Run to return.
func (in *instance) wait(t *testing.T, limit time.Duration) {
	select {
	case <-in.assigned:
	case <-in.crashed:
	case <-time.After(10 * time.Second):
	}
	select {
	case <-in.crashed:
	case <-time.After(limit):
		in.crash(false)
	}
	select {
	case err := <-in.done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("a crashed bridge did not return from Run within 30s")
	}
}

// groupWatch observes, on the source cluster itself, the commits of a
// consumer group: none may come from a generation older than one the group
// has already synced, and per partition they never go backwards.
type groupWatch struct {
	mu         sync.Mutex
	generation int32
	committed  map[int32]int64
	stale      []string
	backwards  []string
	commits    int
}

func watchGroup(c *kfake.Cluster, group string) *groupWatch {
	w := &groupWatch{committed: map[int32]int64{}}
	c.ControlKey(int16(kmsg.SyncGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if r := req.(*kmsg.SyncGroupRequest); r.Group == group {
			w.mu.Lock()
			w.generation = max(w.generation, r.Generation)
			w.mu.Unlock()
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.OffsetCommitRequest)
		if r.Group != group {
			return nil, nil, false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.commits++
		if r.Generation < w.generation {
			w.stale = append(w.stale, fmt.Sprintf("generation %d after %d synced", r.Generation, w.generation))
			return nil, nil, false
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.Offset < w.committed[p.Partition] {
					w.backwards = append(w.backwards, fmt.Sprintf("partition %d: %d after %d", p.Partition, p.Offset, w.committed[p.Partition]))
				}
				w.committed[p.Partition] = max(w.committed[p.Partition], p.Offset)
			}
		}
		return nil, nil, false
	})
	return w
}

func (w *groupWatch) check(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	require.NotZero(t, w.commits, "commits were seen")
	require.Empty(t, w.stale, "no commit of an old generation is sent after a rebalance")
	require.Empty(t, w.backwards, "commits per partition never go backwards")
}

func TestBridge_CrashAnywhere(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	const parts = 4
	createTopic(t, a.KafkaBrokers(), "orders", parts)
	createTopic(t, b.KafkaBrokers(), "orders", parts)
	watch := watchGroup(a.Kafka(), "bridge")

	// Producers write all along.
	ctx, stopProducing := context.WithCancel(context.Background())
	p := newProducer(t, a.KafkaBrokers(), "orders", "m")
	var produced sync.WaitGroup
	produced.Go(func() {
		for ctx.Err() == nil {
			if err := p.produce(ctx, []int32{0, 1, 2, 3}, 10); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("crash plan seed %d", seed)
	const crashes = 50
	var live []*instance
	counts, hits := map[string]int{}, map[string]int{}
	started := rng.IntN(len(plans))
	for i := 0; i < crashes; i++ {
		// One or two processes: starting a second one rebalances the group,
		// and crashes land during the rebalance. The plans take turns, so
		// each is tried about crashes/len(plans) times.
		for len(live) == 0 || len(live) < 2 && rng.IntN(3) == 0 {
			plan := crashPlan{name: plans[started%len(plans)], after: 1 + rng.IntN(4)}
			started++
			live = append(live, startInstance(t, a, b, plan, rng.IntN(4) == 0))
			counts[plan.name]++
		}
		k := rng.IntN(len(live))
		in := live[k]
		live = append(live[:k], live[k+1:]...)
		limit := time.Duration(50+rng.IntN(400)) * time.Millisecond
		if in.plan.name == plans[0] || in.plan.name == plans[1] || in.plan.name == plans[2] {
			// Time for a rebalance under way to settle, so the data path
			// reaches the hook.
			limit += time.Second
		}
		in.wait(t, limit)
		if in.byPlan.Load() {
			hits[in.plan.name]++
		}
	}
	for _, in := range live {
		in.wait(t, 0)
		if in.byPlan.Load() {
			hits[in.plan.name]++
		}
	}
	t.Logf("crash plans tried: %v; crashed at their hook (hard): %v; the others at a random time", counts, hits)
	// Producers write all along and each instance starts behind, so the data
	// path reaches these hooks within its first second: each plan is tried
	// about ten times, and crashes there must have happened.
	require.Positive(t, hits[plans[0]], "some crashes fell between a publish and its commit")
	require.Positive(t, hits[plans[1]], "some crashes fell between the batches of one fetch")
	require.Positive(t, hits[plans[2]], "some crashes fell right before a commit")
	stopProducing()
	produced.Wait()

	// A last process, left alone, must bring the target to exactly the source.
	br, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t)...)
	require.NoError(t, err)
	stop := running(t, br)
	src := readTopic(t, a.KafkaBrokers(), "orders")
	var total int64
	for _, recs := range src {
		total += int64(len(recs))
	}
	waitCaughtUp(t, br, parts, b.KafkaBrokers(), "orders", total)
	require.ErrorIs(t, stop(), context.Canceled)
	requireMirrored(t, "xregion-a", src, readTopic(t, b.KafkaBrokers(), "orders"))
	watch.check(t)
	t.Logf("%d messages bridged exactly once across %d crashes", total, crashes)
}
