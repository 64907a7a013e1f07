package pgstore

import (
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
