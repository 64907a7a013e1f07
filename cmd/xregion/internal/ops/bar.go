package ops

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/resync"
)

// Defaults of Bar.
const (
	DefaultBarEvery  = 5 * time.Second        // between lines when the writer is not a terminal
	DefaultBarRedraw = 100 * time.Millisecond // between redraws on a terminal
	barWidth         = 24                     // cells of the bar itself
)

// Bar draws resync's progress (resync.WithProgress) for a person: on a
// terminal one line redrawn in place with \r, at most every Redraw;
// elsewhere (a log, a pipe) a line when a table's work begins, one every
// Every, and its last state when it ends. Call Finish when the work is
// over. A Bar is not safe for concurrent use; resync calls it from one
// goroutine.
type Bar struct {
	W        io.Writer
	Terminal bool
	Wall     xregion.WallClock // default the system clock
	Every    time.Duration     // default DefaultBarEvery
	Redraw   time.Duration     // default DefaultBarRedraw

	last    resync.Progress
	started bool      // last holds a report
	pending bool      // last has not been shown
	shown   time.Time // when a line was last shown
	line    string    // the line last shown
	width   int       // length of the line on the terminal, to blank it out
}

// Update takes a report; it has the signature resync.WithProgress wants.
func (b *Bar) Update(p resync.Progress) {
	wall := b.Wall
	if wall == nil {
		wall = xregion.SystemClock{}
	}
	now := wall.Now()
	fresh := !b.started || p.Phase != b.last.Phase || p.Table != b.last.Table
	if fresh && b.started {
		b.end()
	}
	b.last, b.started, b.pending = p, true, true
	every := b.Every
	if every <= 0 {
		every = DefaultBarEvery
	}
	if b.Terminal {
		if every = b.Redraw; every <= 0 {
			every = DefaultBarRedraw
		}
	}
	if fresh || now.Sub(b.shown) >= every || p.Total > 0 && p.Done >= p.Total {
		b.show()
		b.shown = now
	}
}

// Finish shows the last report if it was not shown, and ends the line.
func (b *Bar) Finish() {
	if b.started {
		b.end()
	}
	b.started = false
}

// end shows the last report if need be and leaves it on screen.
func (b *Bar) end() {
	if b.pending {
		b.show()
	}
	if b.Terminal && b.width > 0 {
		fmt.Fprintln(b.W)
	}
	b.width, b.line = 0, ""
}

func (b *Bar) show() {
	line := Describe(b.last)
	b.pending = false
	if line == b.line {
		return
	}
	b.line = line
	if !b.Terminal {
		fmt.Fprintln(b.W, line)
		return
	}
	pad := max(b.width-len(line), 0)
	fmt.Fprintf(b.W, "\r%s%s", line, strings.Repeat(" ", pad))
	b.width = len(line)
}

// Describe writes one progress report as a line without its newline, e.g.
// "apply  payments [##########--------------]  42%  1200/2857 keys  900 moved  ETA 3s".
func Describe(p resync.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %s", p.Phase, p.Table)
	verb := "compared"
	if p.Phase == "apply" {
		verb = "reconciled"
	}
	if p.Total > 0 {
		frac := min(float64(p.Done)/float64(p.Total), 1)
		cells := int(frac * barWidth)
		fmt.Fprintf(&b, " [%s%s] %3d%%  %d/%d keys %s", strings.Repeat("#", cells), strings.Repeat("-", barWidth-cells),
			int(frac*100), p.Done, p.Total, verb)
	} else {
		fmt.Fprintf(&b, "  %d keys %s", p.Done, verb)
	}
	fmt.Fprintf(&b, "  %d moved", p.Moved)
	switch {
	case p.ETA > 0:
		fmt.Fprintf(&b, "  ETA %s", max(p.ETA.Round(time.Second), time.Second))
	case p.Total > 0 && p.Done >= p.Total:
		fmt.Fprintf(&b, "  in %s", round(p.Elapsed))
	}
	return b.String()
}
