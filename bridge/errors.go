package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/segmentio/kafka-go"
)

// Sentinel errors. Callers branch on them with errors.Is; the structured
// errors below wrap them and carry the details.
var (
	// ErrPartitionMismatch is wrapped by *PartitionMismatchError: a topic has
	// a different number of partitions in the two clusters and the mapping
	// is SamePartition. Run returns it without bridging anything of that
	// configuration.
	ErrPartitionMismatch = errors.New("bridge: partition counts differ between source and target")

	// ErrRefused is wrapped by *RefusedError: the target refused a message
	// for good (too large, invalid), so retrying cannot help.
	ErrRefused = errors.New("bridge: target refused the message for good")

	// ErrStarted is returned by Run when the bridge already ran: a Bridge
	// runs once; make a new one to run again.
	ErrStarted = errors.New("bridge: Run was already called")

	// ErrNoTranslation is returned by Translate under the KeyHash mapping,
	// which spreads a source partition over every target partition, so no
	// single target offset stands for a source offset.
	ErrNoTranslation = errors.New("bridge: offsets cannot be translated under the KeyHash mapping")

	// ErrMissingTopic is wrapped when a topic to bridge does not exist in
	// the source cluster.
	ErrMissingTopic = errors.New("bridge: topic does not exist")
)

// PartitionMismatchError reports a topic whose partition counts differ.
// Configure WithMapping(KeyHash) to bridge it anyway, losing cross-key
// order, or give both topics the same count. It wraps ErrPartitionMismatch.
type PartitionMismatchError struct {
	Topic    string
	From, To int // partition counts in the source and the target
}

func (e *PartitionMismatchError) Error() string {
	return fmt.Sprintf("bridge: topic %q has %d partitions in the source and %d in the target; "+
		"give them the same count or bridge with WithMapping(KeyHash)", e.Topic, e.From, e.To)
}

// Unwrap returns ErrPartitionMismatch.
func (e *PartitionMismatchError) Unwrap() error { return ErrPartitionMismatch }

// RefusedError reports a message the target refused for good. With a
// dead-letter topic (WithDeadLetter) the message went there; without one
// its partition stopped at it. It wraps ErrRefused and the Kafka error.
type RefusedError struct {
	Topic     string
	Partition int
	Offset    int64 // the message's offset in the source partition
	Err       error // what the target answered
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("bridge: target refused %s/%d offset %d for good: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

// Unwrap returns ErrRefused and the target's error.
func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.Err} }

// IsRetryable reports whether err is worth retrying as it is: a network
// failure, a timeout or a Kafka error the broker calls transient. A refused
// message, invalid input and cancellation are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrRefused) {
		return false
	}
	if permanent(err) {
		return false
	}
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary()
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// permanent reports a produce error that no retry of the same records can
// fix: the records themselves are refused.
func permanent(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.RecordListTooLarge) ||
		errors.Is(err, kafka.InvalidRecord) || errors.Is(err, kafka.InvalidTimestamp)
}

// generationOver reports a commit error that means this member's
// generation has ended: its offsets must not be sent again.
func generationOver(err error) bool {
	return errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.RebalanceInProgress) ||
		errors.Is(err, kafka.UnknownMemberId) || errors.Is(err, kafka.FencedInstanceID)
}
