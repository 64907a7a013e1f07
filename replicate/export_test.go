package replicate

// QueuedLocal is how many writes wait for a slot of the local committer.
func QueuedLocal(a *Async) int { return len(a.commit.queue) }

// QueuedPeer is how many writes wait for a slot of the committer of the
// synchronous replicator's i-th peer.
func QueuedPeer(s *Sync, i int) int { return len(s.peers[i].c.queue) }
