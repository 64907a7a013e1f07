package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wire"
)

// Checkpoints keeps the position of batch jobs, each under its name in a
// namespace: the last item a job processed, saved as it goes, so that
// after a failover the job resumes in another region from what its region
// last saved there. Positions only move forward (see Save). A Checkpoints
// is safe for concurrent use.
//
// How far back a resumed job goes depends on how the table replicates; see
// the package documentation, "Checkpoints".
type Checkpoints struct {
	t  *Table
	ns string
}

// Checkpoint is a job's saved position.
type Checkpoint struct {
	Job      string
	Position int64
	// Version is the save that stored it: its HLC timestamp and region.
	Version xregion.Version
}

// NewCheckpoints returns the checkpoints of namespace ns of t. Errors: an
// *xregion.InvalidError for a nil t or a bad namespace.
func NewCheckpoints(t *Table, ns string) (*Checkpoints, error) {
	if t == nil {
		return nil, fmt.Errorf("kv: new checkpoints: %w", invalid("table", "nil; make one with kv.New"))
	}
	if err := ValidateNamespace(ns); err != nil {
		return nil, fmt.Errorf("kv: new checkpoints: %w", err)
	}
	return &Checkpoints{t: t, ns: ns}, nil
}

// Save records that job has processed everything through position pos.
// Saving the position already saved writes nothing. A position before the
// saved one is refused with a *BehindError: a stale process or region
// never moves a job back; Reset does, on purpose. The save is conditional
// on the checkpoint it read, so two saves racing in one region cannot
// move it back either. With a replicate.Sync Writer, Save returns once the
// peers hold it.
//
// Errors: an *xregion.InvalidError for a bad job name or a negative
// position; a *BehindError; an *xregion.CorruptError for a saved value
// that is not a checkpoint; Table.Put's errors.
func (c *Checkpoints) Save(ctx context.Context, job string, pos int64) error {
	rk, err := recordKey(c.ns, job)
	if err == nil && pos < 0 {
		err = invalid("checkpoint position", "%d; want 0 or more", pos)
	}
	if err != nil {
		return fmt.Errorf("kv: save checkpoint: %w", err)
	}
	_, err = c.t.mutate(ctx, rk, true, func(s state) (*change, error) {
		if s.err != nil {
			return nil, s.err
		}
		if s.live {
			saved, err := decodePosition(s.entry.Value)
			switch {
			case err != nil:
				return nil, err
			case pos < saved:
				return nil, &BehindError{Job: job, Saved: saved, Position: pos}
			case pos == saved:
				return nil, nil
			}
		}
		return &change{value: appendPosition(nil, pos)}, nil
	})
	if err != nil {
		return fmt.Errorf("kv: save checkpoint %s: %w", quote(rk), err)
	}
	return nil
}

// Load returns job's saved checkpoint, and false if it has none (never
// saved, or Reset). Errors: an *xregion.InvalidError for a bad job name;
// an *xregion.CorruptError for a saved value that is not a checkpoint;
// Table.Get's errors.
func (c *Checkpoints) Load(ctx context.Context, job string) (Checkpoint, bool, error) {
	e, err := c.t.Get(ctx, c.ns, job)
	switch {
	case errors.Is(err, xregion.ErrNotFound):
		return Checkpoint{}, false, nil
	case err != nil:
		return Checkpoint{}, false, fmt.Errorf("kv: load checkpoint: %w", err)
	}
	pos, err := decodePosition(e.Value)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("kv: load checkpoint %s: %w", quote(c.ns+Separator+job), err)
	}
	return Checkpoint{Job: job, Position: pos, Version: e.Version}, true, nil
}

// Reset removes job's checkpoint, so that the job starts over and Save
// accepts any position. Errors as Table.Remove's.
func (c *Checkpoints) Reset(ctx context.Context, job string) error {
	return c.t.Remove(ctx, c.ns, job)
}

// A checkpoint's value, inside the entry's envelope:
//
//	format    1 byte, 1
//	position  uvarint, 0 to 2^63-1
const positionFormat byte = 1

func appendPosition(b []byte, pos int64) []byte {
	b = append(b, positionFormat)
	return binary.AppendUvarint(b, uint64(pos))
}

// decodePosition decodes a checkpoint's value. Anything but an encoding
// appendPosition writes is refused with an *xregion.CorruptError.
func decodePosition(b []byte) (int64, error) {
	d := wire.Decoder{B: b, What: "kv checkpoint", Corrupt: corrupt}
	if f := d.Byte(); d.Err == nil && f != positionFormat {
		return 0, d.Fail(0, "unknown format %d, want %d", f, positionFormat)
	}
	pos := d.Uvarint()
	switch {
	case d.Err != nil:
		return 0, d.Err
	case pos > math.MaxInt64:
		return 0, d.Fail(1, "position %d beyond 2^63-1", pos)
	case d.Left() != 0:
		return 0, d.Fail(d.Off, "%d trailing bytes", d.Left())
	}
	return int64(pos), nil
}
