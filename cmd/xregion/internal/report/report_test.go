package report

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sampleDrill is a drill as the game day runs it: region a killed at 5 s,
// the loss detected at 35 s, the standby writing at 36 s, region a back at
// 50 s, failback at 55 s and verified at 57 s.
func sampleDrill() Drill {
	d := Drill{
		Title:    "xregion drill: embedded default",
		Started:  time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC),
		Duration: 60 * time.Second,
		Settings: [][2]string{{"probe every", "10s"}, {"down after", "3 probes"}, {"write rate", "400/s per tier"}},
		Pass:     false,
		Events: []Event{
			{0, EventStart, "drill started"},
			{5 * time.Second, EventKill, "region a killed (links blackholed)"},
			{35 * time.Second, EventDetected, "detector declared region a down"},
			{36 * time.Second, EventFailover, "first write acknowledged in region b"},
			{50 * time.Second, EventRestore, "region a reachable again"},
			{55 * time.Second, EventFailback, "resync applied 1843 rows to region a"},
			{57 * time.Second, EventVerified, "regions verified equal"},
			{60 * time.Second, EventEnd, "drill ended"},
		},
		Results: []Result{
			{"tier0 (ledger)", "RPO", "0", "0", true, ""},
			{"tier0 (ledger)", "RTO", "1m0s", "31s", true, ""},
			{"tier1 (payments)", "RPO", "5s", "7.2s", false, "replication lag grew during the probe window"},
			{"tier1 (payments)", "RTO", "1m0s", "31s", true, ""},
		},
	}
	for _, tier := range []string{"tier0 (ledger)", "tier1 (payments)"} {
		rate, lag := Series{Name: tier}, Series{Name: tier}
		for s := 0; s <= 60; s++ {
			at := time.Duration(s) * time.Second
			r, l := 250.0, 0.0 // tier0 replicates synchronously: no lag
			if tier == "tier1 (payments)" {
				r, l = 400, 120
				if s >= 5 && s < 36 {
					l = 120 + float64(s-5)*240 // the lag grows until the failover
				}
			}
			if s >= 5 && s < 36 {
				r = 0 // writes stall until the failover
			}
			rate.Points = append(rate.Points, Point{at, r})
			lag.Points = append(lag.Points, Point{at, l})
		}
		d.Rates, d.Lags = append(d.Rates, rate), append(d.Lags, lag)
	}
	return d
}

func render(t *testing.T, d Drill) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Write(&b, d))
	return b.String()
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 0, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0, 100, []float64{0, 20, 40, 60, 80, 100}},
		{0, 437, []float64{0, 100, 200, 300, 400, 500}},
		{0, 7440, []float64{0, 2000, 4000, 6000, 8000}},
		{-5, 10, []float64{-5, 0, 5, 10}},
		{0, 0.003, []float64{0, 0.001, 0.002, 0.003}},
		{5, 5, []float64{0, 2, 4, 6}},
	} {
		t.Run(fmt.Sprint(tc.lo, "..", tc.hi), func(t *testing.T) {
			got := niceTicks(tc.lo, tc.hi, 4)
			require.Len(t, got, len(tc.want), "ticks %v", got)
			for i := range got {
				require.InDelta(t, tc.want[i], got[i], 1e-12, "ticks %v", got)
			}
		})
	}
	t.Run("MaxFloat64", func(t *testing.T) {
		got := niceTicks(-math.MaxFloat64, math.MaxFloat64, 4)
		require.GreaterOrEqual(t, len(got), 3)
		for _, v := range got {
			require.True(t, finite(v), "ticks %v", got)
		}
		require.LessOrEqual(t, got[0], -math.MaxFloat64/2)
	})
}

// TestNiceTicks_covers checks the laws the charts rely on for any range:
// the ticks are evenly spaced, start at or below lo, end at or above hi, and
// there are neither too few to read nor too many to print.
func TestNiceTicks_covers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		scale := math.Pow(10, float64(r.IntN(30)-15))
		lo := min(0, (r.Float64()-0.8)*scale)
		hi := max(0, r.Float64()*scale)
		got := niceTicks(lo, hi, 4)
		require.GreaterOrEqual(t, len(got), 3, "%g..%g: %v", lo, hi, got)
		require.LessOrEqual(t, len(got), 9, "%g..%g: %v", lo, hi, got)
		require.LessOrEqual(t, got[0], lo, "%g..%g: %v", lo, hi, got)
		step := got[1] - got[0]
		require.GreaterOrEqual(t, got[len(got)-1], hi-step*1e-6, "%g..%g: %v", lo, hi, got)
		for i := 1; i < len(got); i++ {
			require.InEpsilon(t, step, got[i]-got[i-1], 1e-6, "%g..%g: %v", lo, hi, got)
		}
	}
}

func TestScale_At(t *testing.T) {
	s := scale{0, 60, 64, 940}
	for _, tc := range []struct {
		name    string
		s       scale
		v, want float64
	}{
		{"start", s, 0, 64},
		{"middle", s, 30, 502},
		{"end", s, 60, 940},
		{"before start clamps", s, -10, 64},
		{"after end clamps", s, 1e9, 940},
		{"inverted range (y axis)", scale{0, 100, 200, 0}, 25, 150},
		{"empty domain", scale{3, 3, 10, 20}, 3, 10},
		{"whole float range", scale{-math.MaxFloat64, math.MaxFloat64, 0, 100}, 0, 50},
		{"huge value", scale{0, math.MaxFloat64, 0, 100}, math.MaxFloat64, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, tc.s.at(tc.v), 1e-9)
		})
	}
}

func TestTimeTicks(t *testing.T) {
	for _, tc := range []struct {
		span time.Duration
		want string
	}{
		{60 * time.Second, "0s 10s 20s 30s 40s 50s 1m"},
		{57 * time.Second, "0s 10s 20s 30s 40s 50s"},
		{500 * time.Millisecond, "0s 50ms 100ms 150ms 200ms 250ms 300ms 350ms 400ms 450ms 500ms"},
		{50 * time.Second, "0s 5s 10s 15s 20s 25s 30s 35s 40s 45s 50s"},
		{time.Hour, "0s 10m 20m 30m 40m 50m 1h"},
		{20 * 24 * time.Hour, "0s 48h 96h 144h 192h 240h 288h 336h 384h 432h 480h"},
		{0, "0s"},
	} {
		t.Run(tc.span.String(), func(t *testing.T) {
			var got []string
			for _, d := range timeTicks(tc.span, 10) {
				got = append(got, fmtDur(d))
			}
			require.Equal(t, tc.want, strings.Join(got, " "))
		})
	}
}

func TestFmtValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.6000000000000001: "0.6", 250: "250", 1500: "1.5k", 2e6: "2M",
		7.44e9: "7.44G", 3e12: "3T", math.MaxFloat64: "1.798e+308", -2000: "-2k",
	} {
		require.Equal(t, want, fmtValue(v), "%v", v)
	}
}

func TestPlaceLabels(t *testing.T) {
	x := scale{0, 60, plotLeft, plotRight}
	t.Run("close events take the next row", func(t *testing.T) {
		marks, rows := placeLabels(sampleDrill().Events, x)
		require.Equal(t, 2, rows)
		byKind := map[string]mark{}
		for _, m := range marks {
			byKind[m.Kind] = m
		}
		require.Equal(t, byKind[EventKill].LabelY, byKind[EventDetected].LabelY)
		require.Greater(t, byKind[EventFailover].LabelY, byKind[EventDetected].LabelY, "failover is 1 s after detected")
		require.GreaterOrEqual(t, byKind[EventStart].LabelX, float64(plotLeft), "a label at the edge stays in the picture")
		require.LessOrEqual(t, byKind[EventEnd].LabelX, float64(svgWidth))
	})
	t.Run("rows are capped", func(t *testing.T) {
		var same []Event
		for range 20 {
			same = append(same, Event{At: 30 * time.Second, Kind: EventRestore})
		}
		_, rows := placeLabels(same, x)
		require.Equal(t, maxLabelRows, rows)
	})
	t.Run("no events", func(t *testing.T) {
		marks, rows := placeLabels(nil, x)
		require.Empty(t, marks)
		require.Equal(t, 1, rows)
	})
}

func TestWrite_escapesText(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	d := sampleDrill()
	d.Title = evil
	d.Settings = append(d.Settings, [2]string{evil, evil})
	d.Events = append(d.Events, Event{10 * time.Second, evil, evil})
	d.Results[0].Note = evil
	d.Rates[0].Name = evil
	out := render(t, d)
	require.NotContains(t, strings.ToLower(out), "<script")
	require.Contains(t, out, "&lt;script&gt;")
}

// TestWrite_selfContained guards the promise that the page loads nothing: no
// scripts, no links, no URLs of any kind.
func TestWrite_selfContained(t *testing.T) {
	out := strings.ToLower(render(t, sampleDrill()))
	for _, s := range []string{"<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import", "http:", "https:", "//cdn"} {
		if i := strings.Index(out, s); i >= 0 {
			t.Errorf("page has %q: …%s…", s, out[max(0, i-60):min(len(out), i+60)])
		}
	}
}

func TestWrite_verdictAndResults(t *testing.T) {
	d := sampleDrill()
	out := render(t, d)
	require.Contains(t, out, `<div id="verdict" class="verdict fail">FAIL</div>`)
	require.Contains(t, out, "1 of 4 checks failed")
	require.Equal(t, 1, strings.Count(out, `<tr class="fail">`))
	require.Contains(t, out, "replication lag grew during the probe window")

	d.Pass = true
	require.Contains(t, render(t, d), `<div id="verdict" class="verdict pass">PASS</div>`)
}

var markRE = regexp.MustCompile(`<g class="event" data-kind="([^"]*)" data-at-ms="(-?\d+)">\s*<title>[^<]*</title>\s*<line x1="([\d.]+)"`)

type drawnMark struct {
	kind string
	atMS int64
	x    float64
}

func marks(t *testing.T, out string) []drawnMark {
	t.Helper()
	var ms []drawnMark
	for _, m := range markRE.FindAllStringSubmatch(out, -1) {
		at, err := strconv.ParseInt(m[2], 10, 64)
		require.NoError(t, err)
		x, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err)
		ms = append(ms, drawnMark{m[1], at, x})
	}
	return ms
}

func TestWrite_eventMarkers(t *testing.T) {
	d := sampleDrill()
	// Given out of order, as a recorder appending from several goroutines might.
	d.Events[1], d.Events[6] = d.Events[6], d.Events[1]
	ms := marks(t, render(t, d))
	require.Len(t, ms, len(d.Events))
	for i := 1; i < len(ms); i++ {
		require.Less(t, ms[i-1].atMS, ms[i].atMS, "%v", ms)
		require.Less(t, ms[i-1].x, ms[i].x, "%v", ms)
	}
	require.Equal(t, drawnMark{EventKill, 5000, plotLeft + 5.0/60*(plotRight-plotLeft)}, ms[1])
}

func TestWrite_edgeCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drill Drill
		check func(t *testing.T, out string)
	}{
		{"zero drill", Drill{}, func(t *testing.T, out string) {
			require.Equal(t, 2, strings.Count(out, "no samples"))
			require.Contains(t, out, "No events recorded.")
			require.Contains(t, out, "No results recorded.")
			require.Contains(t, out, ">FAIL<")
		}},
		{"one point", Drill{Duration: time.Minute, Rates: []Series{{"t", []Point{{30 * time.Second, 5}}}}}, func(t *testing.T, out string) {
			require.Equal(t, 1, strings.Count(out, "<circle"))
			require.Equal(t, 1, strings.Count(out, "no samples"), "the lag chart only")
		}},
		{"all zero", Drill{Duration: time.Minute, Lags: []Series{{"t", []Point{{0, 0}, {time.Minute, 0}}}}}, func(t *testing.T, out string) {
			require.Contains(t, out, `points="64,`)
		}},
		{"huge and non-finite values", Drill{Duration: time.Minute, Lags: []Series{{"t", []Point{
			{0, math.MaxFloat64}, {time.Second, math.Inf(1)}, {2 * time.Second, math.NaN()}, {3 * time.Second, -math.MaxFloat64},
		}}}}, func(t *testing.T, out string) {
			require.Contains(t, html.UnescapeString(out), ">1e+308</text>", "the top tick")
			require.Contains(t, out, `points="64,254 107.8,424"`, "+Inf and NaN left out")
		}},
		{"events outside the drill", Drill{Duration: time.Minute, Events: []Event{{-time.Second, EventStart, "early"}, {2 * time.Minute, EventEnd, "late"}}}, func(t *testing.T, out string) {
			ms := marks(t, out)
			require.Equal(t, []drawnMark{{EventStart, -1000, plotLeft}, {EventEnd, 120000, plotRight}}, ms)
			require.Contains(t, out, "<td class=\"at\">-1s</td>")
			require.Contains(t, out, "<td class=\"at\">2m</td>")
		}},
		{"no duration: span from the data", Drill{Events: []Event{{10 * time.Second, EventKill, "k"}}}, func(t *testing.T, out string) {
			require.Equal(t, []drawnMark{{EventKill, 10000, plotRight}}, marks(t, out))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tc.drill)
			for _, bad := range []string{"NaN", "Inf", "<no value>", "ZgotmplZ"} {
				require.NotContains(t, out, bad)
			}
			tc.check(t, out)
		})
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWrite_writerError(t *testing.T) {
	want := errors.New("disk full")
	err := Write(failingWriter{want}, sampleDrill())
	require.ErrorIs(t, err, want)
}

func ExampleWrite() {
	var b bytes.Buffer
	d := Drill{
		Title:    "drill",
		Duration: 10 * time.Second,
		Events:   []Event{{2 * time.Second, EventKill, "region a killed"}, {7 * time.Second, EventFailback, "resync applied"}},
		Pass:     true,
	}
	if err := Write(&b, d); err != nil {
		panic(err)
	}
	// Each event is a <g class="event"> with its kind and its time in ms.
	for _, m := range regexp.MustCompile(`<g class="event"[^>]*>`).FindAllString(b.String(), -1) {
		fmt.Println(m)
	}
	// Output:
	// <g class="event" data-kind="kill" data-at-ms="2000">
	// <g class="event" data-kind="failback" data-at-ms="7000">
}
