package report

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath is where Debian's chromium package puts the browser, and
// where .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds the whole browser session, so a Chromium that hangs
// fails the test instead of hanging CI.
const browserTimeout = 60 * time.Second

type box struct{ X, Y, W, H float64 }

func (b box) midX() float64 { return b.X + b.W/2 }

type pageFacts struct {
	Resources  []string
	Verdict    string
	VerdictBox box
	Plots      []box
	FailedRows int
	Polylines  int
	Marks      map[string]struct {
		AtMS  int64
		Line  box
		Label box
		Title string
	}
	Events []string
}

// factsJS gathers from the rendered page what a reader would see.
const factsJS = `(() => {
	const box = el => { const r = el.getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; };
	const marks = {};
	for (const g of document.querySelectorAll('svg.timeline g.event')) {
		marks[g.dataset.kind] = {
			AtMS: Number(g.dataset.atMs),
			Line: box(g.querySelector('line')),
			Label: box(g.querySelector('text')),
			Title: g.querySelector('title').textContent,
		};
	}
	const verdict = document.getElementById('verdict');
	return {
		Resources: performance.getEntriesByType('resource').map(e => e.name),
		Verdict: verdict.textContent.trim(),
		VerdictBox: box(verdict),
		Plots: [...document.querySelectorAll('svg.timeline rect.plot')].map(box),
		FailedRows: document.querySelectorAll('#results tr.fail').length,
		Polylines: document.querySelectorAll('svg.timeline polyline.series').length,
		Marks: marks,
		Events: [...document.querySelectorAll('#events tbody tr')].map(tr => tr.textContent),
	};
})()`

// TestWrite_inBrowser opens a drill's page in headless Chromium and checks
// what a person would: that it loads nothing from outside, shows the
// verdict, and draws the events across both charts in time order.
func TestWrite_inBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := "browser test needs Chromium at " + chromiumPath + " (.ci/run installs it; or: apt-get install chromium)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	start := time.Now()

	path := filepath.Join(t.TempDir(), "drill.html")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, Write(f, sampleDrill()))
	require.NoError(t, f.Close())
	url := "file://" + path

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()

	// Listen sees only what comes after it, and starts the browser to do so.
	var mu sync.Mutex
	var requests []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}))
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("verdict")),
	))
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[pageFacts](factsJS))
	require.NoError(t, err)
	require.NoError(t, chromedp.Cancel(ctx)) // close the browser before the temp dir goes
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))

	mu.Lock()
	require.Equal(t, []string{url}, requests, "the page itself and nothing else")
	mu.Unlock()
	require.Empty(t, facts.Resources, "resources the page loaded")

	require.Equal(t, "FAIL", facts.Verdict)
	require.Greater(t, facts.VerdictBox.W, 0.0)
	require.Greater(t, facts.VerdictBox.H, 0.0)
	require.Equal(t, 1, facts.FailedRows)
	require.Equal(t, 4, facts.Polylines, "two tiers in each of two charts")

	require.Len(t, facts.Plots, 2)
	rates, lags := facts.Plots[0], facts.Plots[1]
	require.Greater(t, rates.W, 100.0)
	require.Less(t, rates.Y+rates.H, lags.Y, "the rate chart sits above the lag chart")
	require.Equal(t, rates.X, lags.X, "one time axis")
	require.Equal(t, rates.W, lags.W, "one time axis")

	for _, kind := range []string{EventKill, EventDetected, EventFailover, EventFailback} {
		m, ok := facts.Marks[kind]
		require.True(t, ok, "marker for %q", kind)
		require.GreaterOrEqual(t, m.Line.W, 0.0, kind)
		require.Greater(t, m.Line.H, 0.0, kind)
		require.Greater(t, m.Label.W, 0.0, "%s label", kind)
		x := m.Line.midX()
		require.True(t, x >= rates.X && x <= rates.X+rates.W, "%s at x=%v outside the chart %+v", kind, x, rates)
		require.LessOrEqual(t, m.Line.Y, rates.Y, "%s line starts above the rate chart", kind)
		require.GreaterOrEqual(t, m.Line.Y+m.Line.H, lags.Y+lags.H, "%s line reaches the bottom of the lag chart", kind)
	}
	kill, detected, failback := facts.Marks[EventKill], facts.Marks[EventDetected], facts.Marks[EventFailback]
	require.EqualValues(t, 5000, kill.AtMS)
	require.EqualValues(t, 55000, failback.AtMS)
	require.Less(t, kill.Line.midX(), detected.Line.midX())
	require.Less(t, detected.Line.midX(), failback.Line.midX())
	// 30 s of a 60 s drill between kill and detection: half the chart's width.
	require.InDelta(t, rates.W/2, detected.Line.midX()-kill.Line.midX(), 1)
	require.Equal(t, "region a killed (links blackholed)", kill.Title)

	require.Len(t, facts.Events, 8)
	require.Contains(t, facts.Events[1], "region a killed")
	require.Contains(t, facts.Events[5], "failback")
	require.Contains(t, facts.Events[5], "resync applied")
}
