package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Parse(pageHTML))

// The timeline's geometry, in SVG user units; the page scales it to fit.
const (
	svgWidth     = 960
	plotLeft     = 64
	plotRight    = svgWidth - 20
	chartHeight  = 170
	labelRow     = 14 // height of one row of event labels
	maxLabelRows = 4
	chartGap     = 40 // room for the second chart's title
	charWidth    = 7  // rough width of a label character, to keep labels apart
)

// palette is Okabe-Ito without the yellow: distinguishable with the common
// colour-vision deficiencies, calm on white.
var palette = []string{"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#444444"}

// Write renders d as one self-contained HTML page: no scripts, no external
// resources, the charts drawn as inline SVG. Points and events outside
// 0..Duration are drawn at the nearest edge; values that are not finite are
// left out. It returns the first error of w.
func Write(w io.Writer, d Drill) error {
	if err := page.Execute(w, build(d)); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

type view struct {
	Drill    Drill
	Started  string
	Duration string
	Failed   int // results that did not pass

	Width, Height float64
	PlotLeft      float64
	PlotRight     float64
	PlotWidth     float64
	Charts        []chart
	TimeTicks     []tick
	AxisY         float64 // baseline of the time axis labels
	Marks         []mark
	Legend        []legendEntry
	Events        []listedEvent
}

type chart struct {
	Name, Title string
	Top, Bottom float64
	Height      float64
	Ticks       []tick
	Lines       []line
	Empty       bool
}

type tick struct {
	At    float64 // pixel position along the axis
	Label string
}

type line struct {
	Name, Color string
	Points      string // "x,y x,y …"
	Dots        []point
}

type point struct{ X, Y float64 }

type mark struct {
	Kind, Text     string
	AtMS           int64 // the event's time as recorded, not clamped
	X, Top, Bottom float64
	LabelX, LabelY float64
}

type legendEntry struct{ Name, Color string }

type listedEvent struct{ At, Kind, Text string }

func build(d Drill) view {
	v := view{Drill: d, Width: svgWidth, PlotLeft: plotLeft, PlotRight: plotRight, PlotWidth: plotRight - plotLeft}
	v.Started = "—"
	if !d.Started.IsZero() {
		v.Started = d.Started.Format("2006-01-02 15:04:05 MST")
	}
	v.Duration = fmtDur(d.Duration.Round(time.Millisecond))
	for _, r := range d.Results {
		if !r.Pass {
			v.Failed++
		}
	}

	span := timeSpan(d)
	x := scale{0, span.Seconds(), plotLeft, plotRight}

	events := slices.Clone(d.Events)
	slices.SortStableFunc(events, func(a, b Event) int { return cmp.Compare(a.At, b.At) })
	marks, rows := placeLabels(events, x)

	colors := map[string]string{}
	for _, s := range append(slices.Clone(d.Rates), d.Lags...) {
		if _, ok := colors[s.Name]; !ok {
			c := palette[len(colors)%len(palette)]
			colors[s.Name] = c
			v.Legend = append(v.Legend, legendEntry{s.Name, c})
		}
	}

	top := float64(rows*labelRow) + 30 // under the labels, room for the chart's title
	rates := buildChart("rates", "writes acknowledged per second", d.Rates, x, top, colors)
	lags := buildChart("lags", "live RPO (ms)", d.Lags, x, rates.Bottom+chartGap, colors)
	v.Charts = []chart{rates, lags}

	for _, t := range timeTicks(span, 10) {
		v.TimeTicks = append(v.TimeTicks, tick{round1(x.at(t.Seconds())), fmtDur(t)})
	}
	v.AxisY = lags.Bottom + 16
	v.Height = lags.Bottom + 26
	for _, m := range marks {
		m.Top, m.Bottom = m.LabelY+4, lags.Bottom
		v.Marks = append(v.Marks, m)
	}
	for _, e := range events {
		v.Events = append(v.Events, listedEvent{fmtDur(e.At.Round(time.Millisecond)), e.Kind, e.Text})
	}
	return v
}

// timeSpan is the timeline's length: the drill's duration, or where there is
// none, the latest thing recorded, so a page is drawn whatever it is given.
func timeSpan(d Drill) time.Duration {
	span := d.Duration
	if span > 0 {
		return span
	}
	for _, s := range append(slices.Clone(d.Rates), d.Lags...) {
		for _, p := range s.Points {
			span = max(span, p.At)
		}
	}
	for _, e := range d.Events {
		span = max(span, e.At)
	}
	if span <= 0 {
		span = time.Second
	}
	return span
}

// placeLabels puts each event's label in the first row where it does not
// overlap the previous one, so events a second apart stay readable, and
// returns the number of rows used. Past maxLabelRows labels may overlap: the
// events list below the charts still has them all.
func placeLabels(events []Event, x scale) (marks []mark, rows int) {
	var ends []float64 // right edge of the last label in each row
	for _, e := range events {
		px := round1(x.at(e.At.Seconds()))
		half := float64(len(e.Kind)*charWidth)/2 + 2
		lx := min(max(px, plotLeft+half), svgWidth-half)
		row := 0
		for row < len(ends) && row < maxLabelRows-1 && ends[row] > lx-half {
			row++
		}
		if row == len(ends) {
			ends = append(ends, 0)
		}
		ends[row] = lx + half
		marks = append(marks, mark{
			Kind: e.Kind, Text: e.Text, AtMS: e.At.Milliseconds(),
			X: px, LabelX: lx, LabelY: float64((row+1)*labelRow) + 2,
		})
	}
	return marks, max(len(ends), 1)
}

func buildChart(name, title string, series []Series, x scale, top float64, colors map[string]string) chart {
	c := chart{Name: name, Title: title, Top: top, Bottom: top + chartHeight, Height: chartHeight, Empty: true}
	lo, hi := 0.0, 0.0
	for _, s := range series {
		for _, p := range s.Points {
			if finite(p.Value) {
				lo, hi = min(lo, p.Value), max(hi, p.Value)
				c.Empty = false
			}
		}
	}
	ticks := niceTicks(lo, hi, 4)
	y := scale{min(ticks[0], lo), max(ticks[len(ticks)-1], hi), c.Bottom, c.Top}
	for _, t := range ticks {
		c.Ticks = append(c.Ticks, tick{round1(y.at(t)), fmtValue(t)})
	}
	for _, s := range series {
		pts := slices.Clone(s.Points)
		slices.SortStableFunc(pts, func(a, b Point) int { return cmp.Compare(a.At, b.At) })
		l := line{Name: s.Name, Color: colors[s.Name]}
		var b strings.Builder
		for _, p := range pts {
			if !finite(p.Value) {
				continue
			}
			q := point{round1(x.at(p.At.Seconds())), round1(y.at(p.Value))}
			fmt.Fprintf(&b, "%g,%g ", q.X, q.Y)
			l.Dots = append(l.Dots, q)
		}
		if len(l.Dots) > 1 {
			l.Dots = nil // a line shows them; a lone sample needs a dot
		}
		l.Points = strings.TrimSpace(b.String())
		c.Lines = append(c.Lines, l)
	}
	return c
}

// scale maps the domain [d0, d1] onto [r0, r1], clamping what lies outside.
type scale struct{ d0, d1, r0, r1 float64 }

func (s scale) at(v float64) float64 {
	if !(s.d1 > s.d0) {
		return s.r0
	}
	t := (v/2 - s.d0/2) / (s.d1/2 - s.d0/2) // halved: no overflow at ±MaxFloat64
	t = min(max(t, 0), 1)
	return s.r0 + t*(s.r1-s.r0)
}

// niceTicks returns about n+1 round values (steps of 1, 2 or 5 times a power
// of ten, whichever gives the count nearest n) covering [lo, hi]; an empty
// range [v, v] is widened to take in 0 and v+1.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		lo, hi = min(lo, 0), max(hi, lo+1)
	}
	raw := hi/float64(n) - lo/float64(n) // not (hi-lo)/n: that overflows at ±MaxFloat64
	step := math.Pow(10, math.Floor(math.Log10(raw)))
	switch e := raw / step; {
	case e >= math.Sqrt(50):
		step *= 10
	case e >= math.Sqrt(10):
		step *= 5
	case e >= math.Sqrt(2):
		step *= 2
	}
	var ticks []float64
	for k := math.Floor(lo / step); len(ticks) < 2*n+2; k++ {
		v := k * step
		if math.IsInf(v, -1) {
			continue // below -MaxFloat64: start at the first round value there is
		}
		if math.IsInf(v, 1) {
			break // the next round value is past MaxFloat64
		}
		ticks = append(ticks, v)
		if v >= hi-step*1e-9 { // k*step can land a hair under hi
			break
		}
	}
	return ticks
}

// timeSteps are the tick intervals a person counts in.
var timeSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeTicks returns the multiples of the smallest human interval that cuts
// [0, span] into at most n parts.
func timeTicks(span time.Duration, n int) []time.Duration {
	if span <= 0 {
		return []time.Duration{0}
	}
	step := span / time.Duration(n)
	if i, _ := slices.BinarySearch(timeSteps, step); i < len(timeSteps) {
		step = timeSteps[i]
	} else {
		step = (step + 24*time.Hour - 1) / (24 * time.Hour) * (24 * time.Hour)
	}
	var ticks []time.Duration
	for t := time.Duration(0); t <= span; t += step {
		ticks = append(ticks, t)
	}
	return ticks
}

// fmtDur is Duration.String without the zero tails: "1m", not "1m0s".
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fmtValue writes an axis value short: 1500 as "1.5k", 2e6 as "2M".
func fmtValue(v float64) string {
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= u.div && math.Abs(v) < 1e15 {
			return strconv.FormatFloat(v/u.div, 'g', 4, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }
