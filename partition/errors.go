package partition

import (
	"errors"
	"fmt"

	"github.com/xregion/xregion"
)

// Sentinel errors. Callers branch on them with errors.Is; the structured
// errors below wrap them and carry the details.
var (
	// ErrNotHome is wrapped by *NotHomeError: this region is not the home of
	// the key's partition, so it must not write the key. The write belongs
	// in the home region (HomeOf tells which), or nowhere while the
	// partition has no home.
	ErrNotHome = errors.New("partition: this region is not the key's home")

	// ErrStaleEpoch is wrapped by *StaleEpochError: a record carries an
	// ownership epoch older than its partition's current one. Such a record
	// was stamped under a grant of ownership that has since moved; it is
	// never applied, locally or (through a Guard) in any other region.
	ErrStaleEpoch = errors.New("partition: stale ownership epoch")

	// ErrApprovals is wrapped by *ApprovalError: a failover was requested
	// with fewer distinct approvals than the Router requires.
	ErrApprovals = errors.New("partition: not enough approvals")

	// ErrPartitionCount is wrapped by *PartitionCountError: the ownership
	// map was created with another number of partitions. The number is
	// fixed at creation; changing it would move keys between partitions
	// under the regions' feet.
	ErrPartitionCount = errors.New("partition: partition count differs from the ownership map's")

	// ErrMoveLost is returned by Handover, Failover and Bootstrap when
	// another ownership change of the same partition, made concurrently
	// elsewhere, won over this one. Refresh, look at Owner, and decide
	// again.
	ErrMoveLost = errors.New("partition: a concurrent ownership change won")
)

// NotHomeError reports a write for a key whose partition has its home in
// another region (or no home yet). It wraps ErrNotHome.
type NotHomeError struct {
	Key       string // the key written; "" when a whole partition was asked for
	Partition int
	Region    xregion.Region // the region that refused the write
	Home      xregion.Region // where the key's writes go; "" while the partition has no home
	Epoch     uint64         // the partition's current epoch; 0 while it has no home
}

func (e *NotHomeError) Error() string {
	what := fmt.Sprintf("partition %d", e.Partition)
	if e.Key != "" {
		what = fmt.Sprintf("key %s (partition %d)", quote(e.Key), e.Partition)
	}
	if e.Home == "" {
		return "partition: " + what + " has no home region yet; bootstrap the ownership map"
	}
	return fmt.Sprintf("partition: %s is homed in %s at epoch %d, not in %s; send the write there",
		what, e.Home, e.Epoch, e.Region)
}

// Unwrap returns ErrNotHome.
func (e *NotHomeError) Unwrap() error { return ErrNotHome }

// StaleEpochError reports a record whose ownership epoch is older than its
// partition's current epoch: the fencing token of a grant that has moved on.
// It wraps ErrStaleEpoch.
type StaleEpochError struct {
	Key       string // "" when a whole partition was asked for
	Partition int
	Current   uint64 // the partition's current epoch (at least; see Router.Stamp)
	Got       uint64 // the record's epoch
}

func (e *StaleEpochError) Error() string {
	what := fmt.Sprintf("partition %d", e.Partition)
	if e.Key != "" {
		what = fmt.Sprintf("key %s (partition %d)", quote(e.Key), e.Partition)
	}
	return fmt.Sprintf("partition: %s: epoch %d is stale, the partition's current epoch is %d", what, e.Got, e.Current)
}

// Unwrap returns ErrStaleEpoch.
func (e *StaleEpochError) Unwrap() error { return ErrStaleEpoch }

// ApprovalError reports a failover with too few distinct approvals. It wraps
// ErrApprovals.
type ApprovalError struct {
	Need int // distinct approvals the Router requires (WithApprovals)
	Got  int // distinct approvals given
}

func (e *ApprovalError) Error() string {
	return fmt.Sprintf("partition: %d distinct approvals needed, got %d", e.Need, e.Got)
}

// Unwrap returns ErrApprovals.
func (e *ApprovalError) Unwrap() error { return ErrApprovals }

// PartitionCountError reports an ownership record made for another number of
// partitions than the Router's. It wraps ErrPartitionCount.
type PartitionCountError struct {
	Table      string
	Key        string // the ownership record that disagrees
	Stored     int    // the partition count the record was made with
	Configured int    // the Router's partition count
}

func (e *PartitionCountError) Error() string {
	return fmt.Sprintf("partition: ownership record %s %s was made for %d partitions, this router has %d; the count is fixed when the map is created",
		e.Table, quote(e.Key), e.Stored, e.Configured)
}

// Unwrap returns ErrPartitionCount.
func (e *PartitionCountError) Unwrap() error { return ErrPartitionCount }

// HomeOf returns the region a refused write should be sent to: the Home of a
// *NotHomeError anywhere in err's chain. It returns false when err names no
// home (another error, or a partition that has none yet).
func HomeOf(err error) (xregion.Region, bool) {
	var nh *NotHomeError
	if errors.As(err, &nh) && nh.Home != "" {
		return nh.Home, true
	}
	return "", false
}

// IsFenced reports whether err says a write was refused because ownership
// moved: a stale epoch, or a region that is not (or no longer) the home. A
// caller that sees it should refresh its routing and, if the write still
// makes sense, send it to the current home.
func IsFenced(err error) bool {
	return errors.Is(err, ErrStaleEpoch) || errors.Is(err, ErrNotHome)
}

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: what, Reason: fmt.Sprintf(format, args...)}
}
