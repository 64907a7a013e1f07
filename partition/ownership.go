package partition

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/xregion/xregion"
)

// Move says how a partition came to its home.
type Move uint8

const (
	// MoveBootstrap: the first assignment of a home (epoch 1).
	MoveBootstrap Move = iota + 1
	// MoveHandover: a planned switchover from a live home, with nothing
	// lost (Router.Handover).
	MoveHandover
	// MoveFailover: the old home was declared gone and another region took
	// the partition at once, with approvals (Router.Failover).
	MoveFailover
)

// String returns "bootstrap", "handover" or "failover".
func (m Move) String() string {
	switch m {
	case MoveBootstrap:
		return "bootstrap"
	case MoveHandover:
		return "handover"
	case MoveFailover:
		return "failover"
	}
	return "Move(" + strconv.Itoa(int(m)) + ")"
}

func parseMove(s string) (Move, bool) {
	for m := MoveBootstrap; m <= MoveFailover; m++ {
		if m.String() == s {
			return m, true
		}
	}
	return 0, false
}

// Ownership is one partition's entry in the ownership map: its home region
// and the epoch of that grant. Every grant of a partition has a higher epoch
// than the one before it, and writes carry the epoch they were made under
// (xregion.Record.Epoch), which is what lets every region fence writes of an
// old home. The zero Ownership (epoch 0, no home) is a partition that has
// never been assigned.
type Ownership struct {
	Partition int
	Home      xregion.Region
	Epoch     uint64
	How       Move
	From      xregion.Region // the previous home; "" for MoveBootstrap
	By        []string       // who approved a Failover
	// Version is the ownership record's version. Of two grants with the
	// same epoch (two failovers during a partition), the one with the
	// higher Version wins in every region.
	Version xregion.Version
}

// IsZero reports whether the partition has never had a home.
func (o Ownership) IsZero() bool { return o.Epoch == 0 }

// beats reports whether o is the later grant of the two: the higher epoch,
// then the higher record version.
func (o Ownership) beats(p Ownership) bool {
	if o.Epoch != p.Epoch {
		return o.Epoch > p.Epoch
	}
	return p.Version.Less(o.Version)
}

// String formats o for logs and errors, e.g. "partition 3: us-east-1 at
// epoch 2 (failover from eu-west-1)".
func (o Ownership) String() string {
	if o.IsZero() {
		return fmt.Sprintf("partition %d: no home", o.Partition)
	}
	s := fmt.Sprintf("partition %d: %s at epoch %d (%s", o.Partition, o.Home, o.Epoch, o.How)
	if o.From != "" {
		s += " from " + string(o.From)
	}
	if len(o.By) > 0 {
		s += ", approved by " + strings.Join(o.By, ", ")
	}
	return s + ")"
}

// Limits on an ownership record's contents: they arrive from other regions.
const (
	maxOwnershipValue = 4096
	maxApprovals      = 16
	maxApproverLen    = 128
)

// ownershipValue is the JSON stored as the value of an ownership record.
// JSON so that an operator can read the map with psql
// (convert_from(value, 'UTF8')); unknown fields are ignored so that a later
// version of this package can add some without stalling older regions.
type ownershipValue struct {
	Partitions int      `json:"partitions"`
	Home       string   `json:"home"`
	Epoch      uint64   `json:"epoch"`
	How        string   `json:"how"`
	From       string   `json:"from,omitempty"`
	By         []string `json:"by,omitempty"`
}

// OwnershipKey returns the key of partition p's record in the ownership
// table: "p" and the partition number in five digits ("p00042"), so the
// records sort by partition.
func OwnershipKey(p int) string { return fmt.Sprintf("p%05d", p) }

// parseOwnerKey is the inverse of OwnershipKey.
func parseOwnerKey(key string) (int, bool) {
	if len(key) != 6 || key[0] != 'p' {
		return 0, false
	}
	n, err := strconv.Atoi(key[1:])
	if err != nil || n < 0 || n >= MaxPartitions || key != OwnershipKey(n) {
		return 0, false // one spelling per partition: "+0042" is not "00042"
	}
	return n, true
}

// encodeOwnership returns the value of o's ownership record in a map of n
// partitions.
func encodeOwnership(o Ownership, n int) []byte {
	b, err := json.Marshal(ownershipValue{
		Partitions: n, Home: string(o.Home), Epoch: o.Epoch, How: o.How.String(),
		From: string(o.From), By: o.By,
	})
	if err != nil {
		panic("partition: encode ownership: " + err.Error()) // plain strings and numbers cannot fail
	}
	return b
}

// decodeOwnership reads an ownership record, which may come from another
// region: anything malformed is refused with an error wrapping
// xregion.ErrCorrupt. It returns the partition count the record was made
// for, which the caller compares with its own.
func decodeOwnership(rec xregion.Record) (Ownership, int, error) {
	bad := func(reason string, args ...any) (Ownership, int, error) {
		return Ownership{}, 0, &xregion.CorruptError{What: "ownership record " + quote(rec.Key), Reason: fmt.Sprintf(reason, args...)}
	}
	p, ok := parseOwnerKey(rec.Key)
	if !ok {
		return bad("key is not an ownership key such as %q", OwnershipKey(7))
	}
	if rec.Tombstone {
		return bad("ownership records are never deleted")
	}
	if len(rec.Value) > maxOwnershipValue {
		return bad("%d bytes; the limit is %d", len(rec.Value), maxOwnershipValue)
	}
	var v ownershipValue
	dec := json.NewDecoder(bytes.NewReader(rec.Value))
	if err := dec.Decode(&v); err != nil {
		return bad("%v", err)
	}
	if dec.More() {
		return bad("trailing data after the JSON object")
	}
	if v.Partitions < 1 || v.Partitions > MaxPartitions || p >= v.Partitions {
		return bad("partition %d of %d partitions", p, v.Partitions)
	}
	if v.Epoch < 1 || v.Epoch > math.MaxInt64 {
		return bad("epoch %d; want 1 to 2^63-1", v.Epoch)
	}
	if v.Epoch != rec.Epoch {
		return bad("epoch %d in the value, %d on the record", v.Epoch, rec.Epoch)
	}
	how, ok := parseMove(v.How)
	if !ok {
		return bad("unknown move %q", v.How)
	}
	home := xregion.Region(v.Home)
	if err := home.Validate(); err != nil {
		return bad("home: %v", err)
	}
	from := xregion.Region(v.From)
	if from != "" {
		if err := from.Validate(); err != nil {
			return bad("from: %v", err)
		}
	}
	if len(v.By) > maxApprovals {
		return bad("%d approvals; the limit is %d", len(v.By), maxApprovals)
	}
	for _, by := range v.By {
		if by == "" || len(by) > maxApproverLen {
			return bad("approver name of %d bytes; want 1 to %d", len(by), maxApproverLen)
		}
	}
	if len(v.By) == 0 {
		v.By = nil // one spelling of "nobody", so decoded grants compare equal
	}
	return Ownership{
		Partition: p, Home: home, Epoch: v.Epoch, How: how, From: from,
		By: v.By, Version: rec.Version,
	}, v.Partitions, nil
}

// quote prints a key from another region safely and briefly.
func quote(key string) string {
	const max = 80
	if len(key) > max {
		return strconv.Quote(key[:max]) + "..."
	}
	return strconv.Quote(key)
}
