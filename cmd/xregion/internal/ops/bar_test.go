package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/resync"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		p    resync.Progress
		want string
	}{
		{resync.Progress{Phase: "plan", Table: "payments"}, "plan   payments  0 keys compared  0 moved"},
		{resync.Progress{Phase: "apply", Table: "payments", Done: 1200, Total: 4800, Moved: 900, ETA: 3 * time.Second},
			"apply  payments [######------------------]  25%  1200/4800 keys reconciled  900 moved  ETA 3s"},
		{resync.Progress{Phase: "apply", Table: "payments", Done: 10, Total: 4800, ETA: time.Millisecond},
			"apply  payments [------------------------]   0%  10/4800 keys reconciled  0 moved  ETA 1s"},
		{resync.Progress{Phase: "verify", Table: "payments", Done: 2, Total: 2, Elapsed: 1500 * time.Millisecond},
			"verify payments [########################] 100%  2/2 keys compared  0 moved  in 1.5s"},
	} {
		require.Equal(t, tc.want, Describe(tc.p))
	}
}

// progress reports of two tables' plan and apply, and the times they come at.
var barEvents = []struct {
	after time.Duration // since the previous report
	p     resync.Progress
}{
	{0, resync.Progress{Phase: "plan", Table: "payments", Total: 10}},
	{time.Second, resync.Progress{Phase: "plan", Table: "payments", Done: 5, Total: 10}},
	{6 * time.Second, resync.Progress{Phase: "plan", Table: "payments", Done: 8, Total: 10}},
	{50 * time.Millisecond, resync.Progress{Phase: "plan", Table: "payments", Done: 9, Total: 10}},
	{0, resync.Progress{Phase: "apply", Table: "payments", Total: 10}},
	{time.Second, resync.Progress{Phase: "apply", Table: "payments", Done: 4, Total: 10, Moved: 4}},
}

func runBar(b *Bar, wall *xregion.ManualClock) {
	for _, e := range barEvents {
		wall.Advance(e.after)
		b.Update(e.p)
	}
	b.Finish()
}

func TestBar_lines(t *testing.T) {
	var out strings.Builder
	wall := xregion.NewManualClock(t0)
	runBar(&Bar{W: &out, Wall: wall}, wall)
	d := func(i int) string { return Describe(barEvents[i].p) }
	// A line when a table begins, every 5 s, and the last state of each.
	require.Equal(t, strings.Join([]string{d(0), d(2), d(3), d(4), d(5)}, "\n")+"\n", out.String())
}

func TestBar_terminal(t *testing.T) {
	var out strings.Builder
	wall := xregion.NewManualClock(t0)
	runBar(&Bar{W: &out, Wall: wall, Terminal: true}, wall)
	d := func(i int) string { return Describe(barEvents[i].p) }
	// Redrawn in place, every 100 ms at most; each table's last state stays.
	want := "\r" + d(0) + "\r" + d(1) + "\r" + d(2) + "\r" + d(3) + "\n" +
		"\r" + d(4) + "\r" + d(5) + "\n"
	require.Equal(t, want, out.String())
	require.NotContains(t, out.String(), "\x1b")
}

func TestBar_terminalBlanksLongerLine(t *testing.T) {
	var out strings.Builder
	wall := xregion.NewManualClock(t0)
	b := &Bar{W: &out, Wall: wall, Terminal: true}
	long := resync.Progress{Phase: "plan", Table: "payments", Done: 1000000, Total: 2000000, ETA: time.Hour}
	short := resync.Progress{Phase: "plan", Table: "payments", Done: 2000000, Total: 2000000}
	b.Update(long)
	wall.Advance(time.Second)
	b.Update(short)
	b.Finish()
	pad := len(Describe(long)) - len(Describe(short))
	require.Positive(t, pad)
	require.Equal(t, "\r"+Describe(long)+"\r"+Describe(short)+strings.Repeat(" ", pad)+"\n", out.String())
}

func TestBar_sameLineOnce(t *testing.T) {
	var out strings.Builder
	wall := xregion.NewManualClock(t0)
	b := &Bar{W: &out, Wall: wall}
	p := resync.Progress{Phase: "verify", Table: "accounts"}
	b.Update(p)
	b.Update(p)
	b.Finish()
	require.Equal(t, Describe(p)+"\n", out.String())
}
