package replicate

// QueuedLocal is how many writes wait for a slot of the local committer.
func QueuedLocal(a *Async) int { return len(a.commit.queue) }
