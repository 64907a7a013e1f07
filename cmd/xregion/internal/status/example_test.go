package status_test

import (
	"os"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/status"
)

func ExampleWriteText() {
	n := func(v int64) *int64 { return &v }
	contact, by := "2026-01-02T03:04:04.500Z", xregion.Region("a")
	rep := status.Report{
		Version: status.Version, At: "2026-01-02T03:04:05.000Z", TimeoutMS: 5000,
		Regions: []status.Region{
			{Name: "a", Primary: true, Status: status.StatusUp,
				Health:    &status.Health{Status: status.StatusUp, LatencyMS: n(3), FailingChecks: []string{}},
				Store:     status.Store{Status: status.StatusUp, LatencyMS: n(1)},
				Staged:    n(0),
				Ownership: &status.Ownership{Partitions: 4, Homes: []status.Home{{Region: "a", Partitions: 4, MaxEpoch: 2}}}},
			{Name: "b", Status: status.StatusUnreachable,
				Health: &status.Health{Status: status.StatusUnreachable, Reason: status.ReasonTimeout, FailingChecks: []string{}},
				Store:  status.Store{Status: status.StatusUnreachable, Reason: status.ReasonTimeout}},
		},
		Links: []status.Link{
			{From: "a", To: "b", Status: status.LinkUnknown, Reason: "b: timeout", Tier: "tier2", TargetMS: 900000,
				LastContact: &contact, SinceContactMS: n(500), ContactReportedBy: &by, ReportedRPOMS: n(1200)},
			{From: "b", To: "a", Status: status.LinkUnknown, Reason: "b: timeout", Tier: "tier2", TargetMS: 900000},
		},
	}
	status.WriteText(os.Stdout, rep)
	// Output:
	// xregion status at 2026-01-02T03:04:05.000Z: NOT OK (timeout 5s)
	//
	// REGIONS
	// REGION       STATUS       HEALTH                 STORE
	// a (primary)  UP           UP 3ms                 UP 1ms
	// b            UNREACHABLE  UNREACHABLE (timeout)  UNREACHABLE (timeout)
	//
	// LINKS (live RPO against tier2's target of 15m0s)
	// LINK    STATUS   RPO  TARGET  PENDING  LAST CONTACT       NOTE
	// a -> b  UNKNOWN  -    15m0s   -        500ms ago (per a)  b: timeout; a's replicator says RPO 1.2s
	// b -> a  UNKNOWN  -    15m0s   -        -                  b: timeout
	//
	// STAGED
	// REGION  STAGED WRITES
	// a       0
	// b       -
	//
	// EPOCHS (single-writer homes as each region sees them)
	// REGION  HOME  PARTITIONS  MAX EPOCH
	// a       a     4           2
	// b       -     -           -
}
