package pgstore

import (
	"encoding/binary"
	"math"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xregion/xregion"
)

// position is a Position as PostgreSQL stores it: bigint and integer.
// Transaction ids stay far below 2^63 and indexes below 2^31.
type position struct {
	tx  int64
	idx int32
}

func (p position) position() xregion.Position {
	return xregion.Position{Tx: uint64(p.tx), Index: uint32(p.idx)}
}

func fromPosition(p xregion.Position) position {
	return position{tx: int64(p.Tx), idx: int32(p.Index)}
}

// recordDest returns scan destinations for "key, "+recordColumns into r.
func recordDest(r *xregion.Record) []any {
	return []any{&r.Key, &r.Value,
		&r.Version.Time.WallTime, &r.Version.Time.Logical, (*string)(&r.Version.Region),
		&r.Base.Time.WallTime, &r.Base.Time.Logical, (*string)(&r.Base.Region),
		(*epoch)(&r.Epoch), &r.Tombstone}
}

// epoch scans a bigint into a uint64; Record.Validate keeps epochs below 2^63.
type epoch uint64

func (e *epoch) ScanInt64(v pgtype.Int8) error { *e = epoch(v.Int64); return nil }

// recordArrays holds a batch of records column by column, the shape
// unnest() takes, so a whole batch is written in one statement.
type recordArrays struct {
	keys         []string
	values       [][]byte
	walls        []int64
	logicals     []int32
	origins      []string
	baseWalls    []int64
	baseLogicals []int32
	baseOrigins  []string
	epochs       []int64
	tombstones   []bool
}

func (a *recordArrays) add(r xregion.Record) {
	a.keys = append(a.keys, r.Key)
	a.values = append(a.values, r.Value)
	a.walls = append(a.walls, r.Version.Time.WallTime)
	a.logicals = append(a.logicals, r.Version.Time.Logical)
	a.origins = append(a.origins, string(r.Version.Region))
	a.baseWalls = append(a.baseWalls, r.Base.Time.WallTime)
	a.baseLogicals = append(a.baseLogicals, r.Base.Time.Logical)
	a.baseOrigins = append(a.baseOrigins, string(r.Base.Region))
	a.epochs = append(a.epochs, int64(r.Epoch))
	a.tombstones = append(a.tombstones, r.Tombstone)
}

func (a *recordArrays) len() int { return len(a.keys) }

// args returns the arrays as $1…$10 in the order of "key, "+recordColumns.
func (a *recordArrays) args() []any {
	return []any{a.keys, a.values, a.walls, a.logicals, a.origins,
		a.baseWalls, a.baseLogicals, a.baseOrigins, a.epochs, a.tombstones}
}

// copyData encodes the records as the tuples of a binary COPY into
// "key, "+recordColumns, each after the n fields prefix writes (nil: none).
func (a *recordArrays) copyData(n int, prefix func(c *copyTuples, i int)) []byte {
	fields := 10 + n
	c := newCopyTuples(a.len() * 160)
	for i := range a.len() {
		c.tuple(fields)
		if prefix != nil {
			prefix(c, i)
		}
		c.text(a.keys[i])
		c.bytea(a.values[i])
		c.int8(a.walls[i])
		c.int4(a.logicals[i])
		c.text(a.origins[i])
		c.int8(a.baseWalls[i])
		c.int4(a.baseLogicals[i])
		c.text(a.baseOrigins[i])
		c.int8(a.epochs[i])
		c.bool(a.tombstones[i])
	}
	return c.end()
}

// copyTuples builds the body of a binary COPY (PostgreSQL's "COPY BINARY"
// file format): a header, tuples of length-prefixed fields in network byte
// order, and a trailer. It is written for the store's own column types only.
type copyTuples struct{ b []byte }

func newCopyTuples(size int) *copyTuples {
	b := make([]byte, 0, size+21)
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint32(b, 0) // header extension length
	return &copyTuples{b}
}

func (c *copyTuples) tuple(fields int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(fields)) }

func (c *copyTuples) text(v string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(v)))
	c.b = append(c.b, v...)
}

// bytea writes nil as NULL, as pgx does for the INSERT path.
func (c *copyTuples) bytea(v []byte) {
	if v == nil {
		c.b = binary.BigEndian.AppendUint32(c.b, math.MaxUint32) // -1: NULL
		return
	}
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(v)))
	c.b = append(c.b, v...)
}

func (c *copyTuples) int8(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *copyTuples) int4(v int32) {
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(v))
}

func (c *copyTuples) bool(v bool) {
	c.b = binary.BigEndian.AppendUint32(c.b, 1)
	if v {
		c.b = append(c.b, 1)
	} else {
		c.b = append(c.b, 0)
	}
}

func (c *copyTuples) end() []byte { return binary.BigEndian.AppendUint16(c.b, math.MaxUint16) } // -1
