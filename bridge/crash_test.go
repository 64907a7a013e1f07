package bridge_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xregion/xregion/bridge"
	"github.com/xregion/xregion/internal/testseed"
	"github.com/xregion/xregion/regiontest"
)

// instance is one bridge process that a test crashes.
type instance struct {
	net      *procNet
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
		in.net.Kill(in.hard || hard)
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
	in := &instance{net: &procNet{}, done: make(chan error, 1), crashed: make(chan struct{}),
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
		fast(t, bridge.WithDial(in.net.dial), bridge.WithHooks(hooks), bridge.WithMaxBatchBytes(16<<10),
			bridge.WithFetchMaxBytes(32<<10))...)
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

// groupWatch follows, on the source cluster's side of the link, the
// commits of a consumer group and the coordinator's answers to them. A
// client cannot know of a generation it has not heard of, so a member the
// group moved on without may still send a commit of its old generation;
// what must hold is that the coordinator never accepts one that arrived
// after it had synced a newer generation, and that per partition the
// accepted offsets never go backwards.
type groupWatch struct {
	group string
	mu    struct {
		sync.Mutex
		synced    int32                  // the highest generation the coordinator synced
		late      map[kmsg.Request]int32 // commits that arrived after a newer generation was synced
		committed map[int32]int64        // the last accepted offset per partition
		accepted  int                    // partitions' commits accepted
		refused   int                    // partitions' commits refused
		lateSeen  int                    // commits that arrived late
		stale     []string               // late commits accepted
		backwards []string               // accepted commits below an earlier accepted one
	}
}

func watchGroup(t *testing.T, l *regiontest.KafkaLink, group string) *groupWatch {
	w := &groupWatch{group: group}
	w.mu.late = map[kmsg.Request]int32{}
	w.mu.committed = map[int32]int64{}
	t.Cleanup(l.Watch(w.see))
	return w
}

func (w *groupWatch) see(e regiontest.KafkaEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r := e.Request.(type) {
	case *kmsg.SyncGroupRequest:
		if resp, ok := e.Response.(*kmsg.SyncGroupResponse); ok && r.Group == w.group && resp.ErrorCode == 0 {
			w.mu.synced = max(w.mu.synced, r.Generation)
		}
	case *kmsg.OffsetCommitRequest:
		if r.Group != w.group {
			return
		}
		if e.Response == nil {
			if r.Generation < w.mu.synced {
				w.mu.late[r] = w.mu.synced
				w.mu.lateSeen++
			}
			return
		}
		synced, late := w.mu.late[r]
		delete(w.mu.late, r)
		offsets := map[int32]int64{}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				offsets[p.Partition] = p.Offset
			}
		}
		for _, t := range e.Response.(*kmsg.OffsetCommitResponse).Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					w.mu.refused++
					continue
				}
				w.mu.accepted++
				off := offsets[p.Partition]
				if late {
					w.mu.stale = append(w.mu.stale, fmt.Sprintf("partition %d: offset %d of generation %d after %d synced", p.Partition, off, r.Generation, synced))
				}
				if prev, ok := w.mu.committed[p.Partition]; ok && off < prev {
					w.mu.backwards = append(w.mu.backwards, fmt.Sprintf("partition %d: %d after %d", p.Partition, off, prev))
				}
				w.mu.committed[p.Partition] = max(w.mu.committed[p.Partition], off)
			}
		}
	}
}

// late is how many commits arrived after the coordinator had synced a newer
// generation than theirs: a zombie's.
func (w *groupWatch) late() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.lateSeen
}

func (w *groupWatch) check(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("commits of partitions accepted: %d, refused: %d; commits that arrived after a newer generation was synced: %d",
		w.mu.accepted, w.mu.refused, w.mu.lateSeen)
	require.NotZero(t, w.mu.accepted, "commits were accepted")
	require.Empty(t, w.mu.stale, "no commit of an old generation is accepted after a newer one was synced")
	require.Empty(t, w.mu.backwards, "accepted commits per partition never go backwards")
}

func TestBridge_CrashAnywhere(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	const parts = 4
	createTopic(t, a.KafkaBrokers(), "orders", parts)
	createTopic(t, b.KafkaBrokers(), "orders", parts)
	watch := watchGroup(t, a.KafkaLink(), "bridge")

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
			time.Sleep(20 * time.Millisecond) // producers pace real traffic to the source cluster
		}
	})

	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1)) // the crash plan
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
