package xregion

import (
	"context"
	"fmt"
	"time"
)

// LinkState is what the link carrying a region's writes (or messages) to a
// peer is doing. It is the one vocabulary in which the replicators, the
// Kafka bridge, the health handler and the operator's tools report a link.
type LinkState uint8

// The states of a link. The zero LinkState is not one of them.
const (
	// LinkStandby: this process does not carry the link; another process
	// does (it holds the lease, or the bridge group gave this one no Kafka
	// partitions), or this one is starting.
	LinkStandby LinkState = iota + 1
	// LinkShipping: this process carries the link, and the peer answers.
	LinkShipping
	// LinkSync: a synchronous peer that acknowledges every write.
	LinkSync
	// LinkRecovering: a synchronous peer that answers again and is catching
	// up on writes it missed; writes wait for it again.
	LinkRecovering
	// LinkDegraded: a synchronous peer that stopped answering, which writes
	// go on without (the Degrade policy): the RPO is no longer zero.
	LinkDegraded
	// LinkFailing: the peer does not answer, or refuses what it is sent.
	LinkFailing
	// LinkStopped: nothing carries the link (a bridge whose Run returned).
	LinkStopped
)

// String returns the state's name: "standby", "shipping", "sync",
// "recovering", "degraded", "failing" or "stopped".
func (s LinkState) String() string {
	switch s {
	case LinkStandby:
		return "standby"
	case LinkShipping:
		return "shipping"
	case LinkSync:
		return "sync"
	case LinkRecovering:
		return "recovering"
	case LinkDegraded:
		return "degraded"
	case LinkFailing:
		return "failing"
	case LinkStopped:
		return "stopped"
	}
	return fmt.Sprintf("LinkState(%d)", uint8(s))
}

// Healthy reports whether the link does what it should: it ships, is
// synchronous, or stands by for another process that does.
func (s LinkState) Healthy() bool {
	return s == LinkStandby || s == LinkShipping || s == LinkSync
}

// PeerLag is one link's lag: what the region would lose if it died now,
// and whether the peer can be heard.
type PeerLag struct {
	Peer Region
	// RPO is the live recovery point: the age of the oldest change committed
	// here that the peer does not durably hold; zero when it holds them all.
	RPO time.Duration
	// Pending and PendingBytes count the changes (or messages) the peer has
	// not applied; a synchronous peer may hold some of them staged, durably.
	Pending, PendingBytes int64
	// LastContact is when the peer last answered; zero if it never has. An
	// idle link is checked every heartbeat, so a dead one shows here even
	// when nothing is pending.
	LastContact time.Time
	// Applied is the position in the local changelog the peer has applied
	// through, as last seen; zero for links that are not changelogs.
	Applied Position
	// State is what the link is doing.
	State LinkState
	// Err is the last error talking to the peer, nil once it answers again.
	Err error
	// Shipped and Conflicts count the records this process applied on the
	// peer and the lost updates that recorded there.
	Shipped, Conflicts int64
}

// SinceContact is how long ago the peer last answered, measured at now.
func (l PeerLag) SinceContact(now time.Time) time.Duration {
	if l.LastContact.IsZero() {
		return 0
	}
	return now.Sub(l.LastContact)
}

// Lagger reports the lag of each of its links: the replicators, a Kafka
// bridge (through its ReplicationLag method and LagFunc), anything an
// operator watches.
type Lagger interface {
	Lag(ctx context.Context) ([]PeerLag, error)
}

// LagFunc adapts a function to Lagger.
type LagFunc func(ctx context.Context) ([]PeerLag, error)

// Lag calls f.
func (f LagFunc) Lag(ctx context.Context) ([]PeerLag, error) { return f(ctx) }
