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
			FROM `+s.ident(inboxTable)+` ORDER BY id LIMIT $1`, []any{stagedPage},
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
			total.Applied += res.Applied
			total.Unchanged += res.Unchanged
			total.Conflicts += res.Conflicts
		}
		if n < stagedPage {
			return total, nil
		}
	}
}

// Staged implements xregion.Stager.
func (s *Store) Staged(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.ident(inboxTable)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count staged writes: %w", err)
	}
	return n, nil
}
