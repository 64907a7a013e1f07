package report

import "time"

// Drill is what a drill measured, in the shape the page draws.
type Drill struct {
	Title    string    // e.g. "xregion drill: embedded default"
	Started  time.Time // wall time the drill started; the timeline counts from it
	Duration time.Duration
	// Settings are shown as given, e.g. {"probe every", "10s"}.
	Settings [][2]string
	Rates    []Series // writes acknowledged per second, one series per tier
	Lags     []Series // live RPO as the lag tracker reported it, in milliseconds, per tier
	Events   []Event
	Results  []Result
	Pass     bool
}

// Series is one line of a chart.
type Series struct {
	Name   string // e.g. "tier1 (payments)"
	Points []Point
}

// Point is one sample of a series.
type Point struct {
	At    time.Duration // since Started
	Value float64
}

// Event is one thing that happened at a moment of the drill.
type Event struct {
	At   time.Duration // since Started
	Kind string        // one of the Event* kinds
	Text string        // what a person reads, e.g. "region a killed (links blackholed)"
}

// The kinds of events a drill records.
const (
	EventStart    = "start"
	EventKill     = "kill"     // the primary region is cut off
	EventDetected = "detected" // the detector declared it down
	EventFailover = "failover" // the first write succeeded in the standby
	EventRestore  = "restore"  // the region is reachable again
	EventFailback = "failback" // resync applied
	EventVerified = "verified" // both regions verified equal (or not: see Text)
	EventEnd      = "end"
)

// Result is one row of the verdict table: one measure of one tier.
type Result struct {
	Tier     string // "tier1 (payments)"
	Measure  string // "RPO", "RTO", "lag reported at failure", ...
	Target   string // as a person reads it: "0", "15m0s"
	Measured string
	Pass     bool
	Note     string // why, when it fails or needs a word
}
