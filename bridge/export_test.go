package bridge

import (
	"context"
	"net"
	"time"
)

// WithDial routes every connection the bridge makes (data, group, admin)
// through dial, so a test can cut them all at once.
func WithDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return option(func(c *config) { c.dial = dial })
}

// Hooks are called at the points a crash hurts most.
type Hooks struct {
	Assigned      func(topic string, partitions []int)
	BeforePublish func(topic string, partition, batch int)
	AfterPublish  func(topic string, partition int)
	BeforeCommit  func()
}

// WithHooks installs test hooks.
func WithHooks(h Hooks) Option {
	return option(func(c *config) {
		c.hooks = hooks{assigned: h.Assigned, beforePublish: h.BeforePublish, afterPublish: h.AfterPublish,
			beforeCommit: h.BeforeCommit}
	})
}

// WithSettle sets the pause between the searches of the target after a
// publish the target refused for its sequence.
func WithSettle(d time.Duration) Option { return option(func(c *config) { c.settle = d }) }

// Murmur2 exposes the key hash for comparison with kafka-go's balancer.
func Murmur2(b []byte) uint32 { return murmur2(b) }
