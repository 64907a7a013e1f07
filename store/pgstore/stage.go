package pgstore

import (
	"context"
	"fmt"

	"github.com/xregion/xregion"
)

var _ xregion.Stager = (*Store)(nil)

// Stage implements xregion.Stager in one statement, so in one round trip:
// an INSERT of the whole batch into the inbox, committed on its own. A
// table not declared with DefineTable is refused first, with
// xregion.ErrUnknownTable, as Apply refuses it.
func (s *Store) Stage(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	if err := (xregion.Batch{From: from, Writes: writes}).Validate(); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if from == "" {
		return &xregion.InvalidError{What: "stage", Reason: "no From region; only a peer's writes are staged"}
	}
	// The inbox takes any table name; refuse an undefined one here, or it
	// fails only when ApplyStaged runs, as a region takes over.
	for _, w := range writes {
		if _, err := s.resolver(w.Table); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
	}
	var recs recordArrays
	tbl := make([]string, 0, len(writes))
	for _, w := range writes {
		tbl = append(tbl, w.Table)
		recs.add(w.Record)
	}
	src, args := s.rows(2, append([]string{"text[]"}, recordArrayTypes...), append([]any{tbl}, recs.args()...))
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.ident(inboxTable)+` (from_region, tbl, key, `+recordColumns+`)
		SELECT $1, * FROM `+src+` AS u`, append([]any{string(from)}, args...)...)
	if err != nil {
		return fmt.Errorf("stage: %w", outcome(err))
	}
	return nil
}

// stagedPage is how many staged writes ApplyStaged resolves per transaction.
const stagedPage = 1000

// ApplyStaged implements xregion.Stager: it reads the stage in pages and
// applies each page as one batch per region it came from; Apply removes what
// it resolved from the stage in the same transaction.
func (s *Store) ApplyStaged(ctx context.Context) (xregion.Result, error) {
	var total xregion.Result
	for {
		var (
			from, table string
			rec         xregion.Record
			order       []xregion.Region
			byFrom      = map[xregion.Region][]xregion.Write{}
			n           int
		)
		err := s.forEachRow(ctx, `SELECT from_region, tbl, key, `+recordColumns+`
			FROM `+s.ident(inboxTable)+` AS i WHERE `+s.notWithdrawn("i")+` ORDER BY id LIMIT $1`, []any{stagedPage},
			append([]any{&from, &table}, recordDest(&rec)...), func() error {
				f := xregion.Region(from)
				if byFrom[f] == nil {
					order = append(order, f)
				}
				byFrom[f] = append(byFrom[f], xregion.Write{Table: table, Record: rec})
				rec = xregion.Record{}
				n++
				return nil
			})
		if err != nil {
			return total, fmt.Errorf("read staged writes: %w", err)
		}
		for _, f := range order {
			res, err := s.Apply(ctx, xregion.Batch{From: f, Writes: byFrom[f]})
			if err != nil {
				return total, fmt.Errorf("apply staged writes from %s: %w", f, err)
			}
			total.Add(res)
		}
		if n < stagedPage {
			return total, nil
		}
	}
}

// Staged implements xregion.Stager.
func (s *Store) Staged(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.ident(inboxTable)+` AS i WHERE `+s.notWithdrawn("i")).Scan(&n); err != nil {
		return 0, fmt.Errorf("count staged writes: %w", err)
	}
	return n, nil
}

// notWithdrawn is the condition that the inbox row i was not withdrawn: a
// copy staged after its Withdraw ran is still in the inbox, and must not
// count.
func (s *Store) notWithdrawn(i string) string {
	return `NOT EXISTS (SELECT FROM ` + s.ident(withdrawnTable) + ` AS w
		WHERE w.from_region = ` + i + `.from_region AND w.tbl = ` + i + `.tbl AND w.key = ` + i + `.key
		  AND w.wall = ` + i + `.wall AND w.logical = ` + i + `.logical AND w.origin = ` + i + `.origin)`
}

// Withdraw implements xregion.Stager in one statement: it fences the writes
// and deletes their staged copies. A Stage that commits after it leaves its
// copy in the inbox, where the fence keeps ApplyStaged, Staged and Holding
// from counting it.
func (s *Store) Withdraw(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	src, args, err := s.stagedArgs(from, writes)
	if err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	_, err = s.pool.Exec(ctx, `WITH u AS (SELECT * FROM `+src+` AS u(tbl, key, wall, logical, origin, n)),
		fence AS (INSERT INTO `+s.ident(withdrawnTable)+` (from_region, tbl, key, wall, logical, origin)
			SELECT $1, tbl, key, wall, logical, origin FROM u ON CONFLICT DO NOTHING)
		DELETE FROM `+s.ident(inboxTable)+` AS i USING u
		WHERE i.from_region = $1 AND i.tbl = u.tbl AND i.key = u.key
		  AND i.wall = u.wall AND i.logical = u.logical AND i.origin = u.origin`, args...)
	if err != nil {
		return fmt.Errorf("withdraw: %w", outcome(err))
	}
	return nil
}

// Holding implements xregion.Stager.
func (s *Store) Holding(ctx context.Context, from xregion.Region, writes []xregion.Write) ([]bool, error) {
	src, args, err := s.stagedArgs(from, writes)
	if err != nil {
		return nil, fmt.Errorf("holding: %w", err)
	}
	out := make([]bool, len(writes))
	var n int
	var held bool
	err = s.forEachRow(ctx, `SELECT u.n, EXISTS (SELECT FROM `+s.ident(inboxTable)+` AS i
			WHERE i.from_region = $1 AND i.tbl = u.tbl AND i.key = u.key
			  AND i.wall = u.wall AND i.logical = u.logical AND i.origin = u.origin AND `+s.notWithdrawn("i")+`)
		FROM `+src+` AS u(tbl, key, wall, logical, origin, n)`, args, []any{&n, &held}, func() error {
		out[n-1] = held
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("holding: %w", err)
	}
	return out, nil
}

// stagedArgs checks the arguments of Withdraw and Holding and returns the
// writes as rows (tbl, key, wall, logical, origin, n), n counting from 1,
// with from as $1.
func (s *Store) stagedArgs(from xregion.Region, writes []xregion.Write) (string, []any, error) {
	if from == "" {
		return "", nil, &xregion.InvalidError{What: "staged writes", Reason: "no From region; name the region that staged them"}
	}
	if err := (xregion.Batch{From: from, Writes: writes}).Validate(); err != nil {
		return "", nil, err
	}
	var recs recordArrays
	tbl := make([]string, len(writes))
	n := make([]int32, len(writes))
	for i, w := range writes {
		tbl[i], n[i] = w.Table, int32(i+1)
		recs.add(w.Record)
	}
	src, args := s.rows(2, []string{"text[]", "text[]", "int8[]", "int4[]", "text[]", "int4[]"},
		[]any{tbl, recs.keys, recs.walls, recs.logicals, recs.origins, n})
	return src, append([]any{string(from)}, args...), nil
}
