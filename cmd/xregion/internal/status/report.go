package status

import (
	"time"

	"github.com/xregion/xregion"
)

// Version is the version of the Report's JSON form, in its "version" field.
// It changes only when a field changes meaning or goes away; new fields may
// appear without it changing.
const Version = 1

// TimeFormat is how a Report writes times: RFC 3339 in UTC with
// milliseconds, fixed width.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Status is a region's verdict, or its health endpoint's or store's.
type Status string

// The statuses of a region. A store is only ever UP or UNREACHABLE.
const (
	StatusUp       Status = "UP"       // it answers and reports nothing wrong
	StatusDegraded Status = "DEGRADED" // its /health says so: a non-critical check or a link is failing
	StatusDown     Status = "DOWN"     // its /health says so: a critical check is failing
	// StatusUnreachable: this tool could not read it within the timeout,
	// or what it read made no sense (Reason says which).
	StatusUnreachable Status = "UNREACHABLE"
)

// severity orders statuses from best to worst.
func (s Status) severity() int {
	switch s {
	case StatusUp:
		return 0
	case StatusDegraded:
		return 1
	case StatusDown:
		return 2
	}
	return 3
}

// worst returns the worse of s and t.
func worst(s, t Status) Status {
	if t.severity() > s.severity() {
		return t
	}
	return s
}

// LinkStatus is a replication link's verdict.
type LinkStatus string

// The statuses of a link.
const (
	LinkOK         LinkStatus = "OK"          // its live RPO is within its tier's target
	LinkOverTarget LinkStatus = "OVER_TARGET" // its live RPO is over its tier's target
	LinkUnknown    LinkStatus = "UNKNOWN"     // a side could not be read; Reason says which
)

// Report is what Gather saw of a deployment. Its JSON form is the stable
// contract described in the package doc; the Go fields mirror it, with
// null (a nil pointer) for what could not be read.
type Report struct {
	Version   int      `json:"version"`    // Version
	At        string   `json:"at"`         // when gathering began, TimeFormat
	TimeoutMS int64    `json:"timeout_ms"` // the time each region was given
	OK        bool     `json:"ok"`         // every region UP and every link OK
	Regions   []Region `json:"regions"`    // in config order
	Links     []Link   `json:"links"`      // every ordered pair, by from then to in config order
}

// Region is one region as this tool saw it.
type Region struct {
	Name    xregion.Region `json:"name"`
	Primary bool           `json:"primary"` // the first region of the config
	// Status is the worse of Health's (when there is a health URL) and
	// Store's.
	Status    Status     `json:"status"`
	Health    *Health    `json:"health"`    // null when the config gives no health URL
	Store     Store      `json:"store"`     // its database, read directly
	Staged    *int64     `json:"staged"`    // writes waiting in its stage; null if unknown
	Ownership *Ownership `json:"ownership"` // null without single-writer tables, or if unknown
}

// Health is what a region's /health endpoint answered.
type Health struct {
	Status    Status `json:"status"`           // the endpoint's verdict, or UNREACHABLE
	Reason    string `json:"reason,omitempty"` // why UNREACHABLE
	LatencyMS *int64 `json:"latency_ms"`       // the round trip; null when it did not answer
	// FailingChecks are the names of the checks the endpoint reports as
	// not UP, sorted; empty when it did not answer.
	FailingChecks []string `json:"failing_checks"`

	links []linkReport // the endpoint's "replication", for Link's contact
}

// linkReport is the part of a health.LinkReport a Link uses, parsed.
type linkReport struct {
	peer        xregion.Region
	lastContact time.Time // zero if never
	rpo         time.Duration
}

// Store is what reading a region's database gave.
type Store struct {
	Status    Status `json:"status"`           // UP or UNREACHABLE
	Reason    string `json:"reason,omitempty"` // why UNREACHABLE
	LatencyMS *int64 `json:"latency_ms"`       // one read's round trip; null when it did not answer
}

// Ownership is a region's view of the single-writer ownership map: which
// region is home to how many partitions, and the highest epoch among them.
type Ownership struct {
	Partitions int    `json:"partitions"` // the map's partition count
	Unassigned int    `json:"unassigned"` // partitions with no home yet
	Homes      []Home `json:"homes"`      // sorted by region name; [] if none has one
}

// Home is one home region's share of the ownership map.
type Home struct {
	Region     xregion.Region `json:"region"`
	Partitions int            `json:"partitions"`
	MaxEpoch   uint64         `json:"max_epoch"`
}

// Link is the replication link that carries From's changes to To: how far
// behind To is, measured in the data.
type Link struct {
	From   xregion.Region `json:"from"`
	To     xregion.Region `json:"to"`
	Status LinkStatus     `json:"status"`
	Reason string         `json:"reason,omitempty"` // why UNKNOWN, e.g. "b: timeout"
	// Tier and TargetMS are the strictest tier among the config's tables
	// and its RPO target: every table shares the changelog the link
	// carries, so the link must meet the strictest.
	Tier     string `json:"tier"`
	TargetMS int64  `json:"target_ms"`
	// RPOMS is the live RPO: how long the oldest change From committed
	// and To has not applied has waited; 0 when To has them all.
	RPOMS        *int64 `json:"rpo_ms"`
	Pending      *int64 `json:"pending"`       // changes To has not applied
	PendingBytes *int64 `json:"pending_bytes"` // their key and value bytes
	// LastContact is when the link's peer last answered, as a health
	// report says: From's report of its link to To, else To's of its link
	// to From (ContactReportedBy names whose). Null when neither says.
	LastContact       *string         `json:"last_contact"`
	SinceContactMS    *int64          `json:"since_contact_ms"` // At minus LastContact, at least 0
	ContactReportedBy *xregion.Region `json:"contact_reported_by"`
	// ReportedRPOMS is the RPO From's replicator reports in its /health,
	// null when it has no report of the link: unlike RPOMS it knows which
	// pending changes To already holds staged (synchronous links).
	ReportedRPOMS *int64 `json:"reported_rpo_ms"`
}

func ms(d time.Duration) *int64 {
	v := d.Milliseconds()
	return &v
}

func ptr[T any](v T) *T { return &v }
