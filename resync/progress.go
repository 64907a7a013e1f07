package resync

import "time"

// progress reports a phase's progress to WithProgress's callback.
type progress struct {
	cfg   config
	p     Progress
	began time.Time
}

func newProgress(cfg config, phase string) *progress {
	return &progress{cfg: cfg, p: Progress{Phase: phase}, began: cfg.wall.Now()}
}

// start begins the work on a table, of total keys.
func (pr *progress) start(table string, total int64) {
	pr.p.Table, pr.p.Done, pr.p.Total = table, 0, total
	pr.began = pr.cfg.wall.Now()
	pr.report()
}

// advance counts done more keys and moved more records.
func (pr *progress) advance(done, moved int64) {
	pr.p.Done += done
	pr.p.Moved += moved
	pr.report()
}

func (pr *progress) report() {
	if pr.cfg.progress == nil {
		return
	}
	pr.p.Elapsed = pr.cfg.wall.Now().Sub(pr.began)
	pr.p.ETA = 0
	if pr.p.Done > 0 && pr.p.Total > pr.p.Done {
		pr.p.ETA = time.Duration(float64(pr.p.Elapsed) * float64(pr.p.Total-pr.p.Done) / float64(pr.p.Done))
	}
	pr.cfg.progress(pr.p)
}
