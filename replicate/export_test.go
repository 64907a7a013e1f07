package replicate

import "context"

// QueuedLocal is how many writes wait for a slot of the local committer.
func QueuedLocal(a *Async) int { return len(a.commit.queue) }

// QueuedPeer is how many writes wait for a slot of the committer of the
// synchronous replicator's i-th peer.
func QueuedPeer(s *Sync, i int) int { return len(s.peers[i].c.queue) }

// WaitAnswered runs Sync.wait on a write whose targets answered: the local
// store with localErr, and peer i with peerErrs[i] (nil: acknowledged).
func WaitAnswered(s *Sync, localErr error, peerErrs ...error) error {
	c := &call{ctx: context.Background(), done: make(chan result, 1+len(peerErrs))}
	c.done <- result{peer: -1, err: localErr}
	for i, err := range peerErrs {
		c.done <- result{peer: i, err: err}
	}
	return s.wait(c)
}

// ErrDegraded is what a degraded peer answers for a write it skipped.
var ErrDegraded = errDegraded
