package bridge_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xregion/xregion/bridge"
)

// The zombie owner: a bridge is cut off from both clusters right after a
// publish was acknowledged, so its commit of that publish and its next
// publish have left it but are held by the network. Its session expires,
// another process takes the partition over, publishes the rest and commits
// it all. Then the network heals: the held publish reaches the target after
// the new owner published the same messages, and the held commit reaches the
// coordinator after the new owner committed further. The target must still
// hold every message once and in order, and the committed offset must not
// move back.
func TestBridge_ZombieOwner(t *testing.T) {
	t.Parallel()
	a, b := regions(t)
	createTopic(t, a.KafkaBrokers(), "orders", 1)
	createTopic(t, b.KafkaBrokers(), "orders", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const total = 2000
	require.NoError(t, newProducer(t, a.KafkaBrokers(), "orders", "m").produce(ctx, []int32{0}, total))
	src := readTopic(t, a.KafkaBrokers(), "orders")

	// The zombie is cut off after its third acknowledged publish, before
	// the commit of it: the publisher goes on to the next batch, and the
	// committer sends the commit, both into the cut.
	zn := &procNet{}
	var publishes atomic.Int32
	cutOff := make(chan struct{})
	hooks := bridge.Hooks{AfterPublish: func(string, int) {
		if publishes.Add(1) == 3 {
			zn.Cut()
			close(cutOff)
		}
	}}
	small := bridge.WithMaxBatchBytes(4 << 10) // many batches, so a next one is always there
	zombie, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"},
		fast(t, bridge.WithDial(zn.dial), bridge.WithHooks(hooks), small)...)
	require.NoError(t, err)
	zctx, stopZombie := context.WithCancel(context.Background())
	defer stopZombie()
	zdone := make(chan error, 1)
	go func() { zdone <- zombie.Run(zctx) }()
	select {
	case <-cutOff:
	case <-ctx.Done():
		t.Fatal("the zombie never published three batches")
	}
	defer zn.Heal()

	// Watch, at the clusters, for commits of a generation the coordinator
	// has moved on from, and for publishes.
	watch := watchGroup(t, a.KafkaLink(), "bridge")
	produces := b.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "orders", Observe: true, Count: -1})

	// The new owner takes over once the zombie's session expired.
	owner, err := bridge.New(a.KafkaBrokers(), b.KafkaBrokers(), "bridge", []string{"orders"}, fast(t, small)...)
	require.NoError(t, err)
	stopOwner := running(t, owner)
	waitCaughtUp(t, owner, 1, b.KafkaBrokers(), "orders", total)
	require.Eventually(t, func() bool { return committed(a.Kafka(), "orders", 0) == total },
		30*time.Second, 10*time.Millisecond, "the new owner commits everything")
	published, late := produces.Hits(), watch.late()
	require.Zero(t, late, "nothing of the zombie's arrives while it is cut off")

	// The network heals: what the zombie sent arrives now.
	zn.Heal()
	require.Eventually(t, func() bool { return watch.late() > 0 && produces.Hits() > published },
		30*time.Second, 10*time.Millisecond, "the zombie's held commit and publish arrive")
	stopZombie()
	select {
	case err := <-zdone:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("the zombie did not return from Run")
	}
	require.ErrorIs(t, stopOwner(), context.Canceled)

	requireMirrored(t, "xregion-a", src, readTopic(t, b.KafkaBrokers(), "orders"))
	watch.check(t)
	require.Equal(t, int64(total), committed(a.Kafka(), "orders", 0), "the zombie's late commit moved nothing")
}

// committed is the group "bridge"'s committed offset of topic/partition as
// the cluster holds it, -1 for none.
func committed(c *kfake.Cluster, topic string, partition int32) int64 {
	g := c.GroupInfo("bridge")
	if g == nil {
		return -1
	}
	if cm, ok := g.Commits[topic][partition]; ok {
		return cm.Offset
	}
	return -1
}
