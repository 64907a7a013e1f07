// Package status gathers what `xregion status` shows: each region's
// health, each replication link's live RPO and last contact against its
// tier's target, the writes waiting in each region's stage, and the epochs
// of the single-writer ownership map as each region sees it.
//
//	rep, err := status.Gather(ctx, cfg, status.WithTimeout(5*time.Second))
//	if err != nil { … } // bad options or config, or ctx ended
//	status.WriteText(os.Stdout, rep) // or json.Marshal(rep)
//	if !rep.OK { … }                 // a region not UP, or a link not OK
//
// A Monitor (New) does the same again and again, keeping each region's
// connections open between reports, for --watch.
//
// # Where each figure comes from
//
// For each region of the config, concurrently:
//
//   - its /health URL, when the config gives one (package health's
//     Report): the region's verdict UP, DEGRADED or DOWN as the region
//     itself judges it, the names of its failing checks, and its
//     replication links' last contact;
//   - its database, opened as config.File.Open opens it (the tables
//     declared, and the ownership map read when there are single-writer
//     tables): one read of its own watermark for the round trip, the count
//     of staged writes (xregion.Stager), the ownership map
//     (partition.Router.Owners) and its watermark of each peer.
//
// For each ordered pair of regions (from → to), once both are read: to's
// watermark of from is how far to has applied from's changelog, and
// from's Backlog past that position counts the changes to still lacks;
// Backlog.Age, the age of the oldest of them, is the link's live RPO. It
// is compared with the RPO target of the strictest tier among the config's
// tables, since every table shares the changelog the link carries: over
// the target (or, with a target of 0, any change pending at all) is
// OVER_TARGET. A link with an end that could not be read is UNKNOWN.
//
// Every region, and every link, gets the same deadline (WithTimeout,
// DefaultTimeout 5 s) counted from the start of the report, so one dead
// region delays the report by the timeout at most, and holds up only its
// own links.
//
// # The JSON contract
//
// Report marshals to this shape; field names and the values of the
// enumerations are stable for a given "version". Every field is always
// present, except "reason", which appears only beside an UNREACHABLE or
// UNKNOWN status to say why; a value that could not be read is null.
// Durations are whole milliseconds in fields ending "_ms"; times are RFC
// 3339 in UTC with milliseconds (TimeFormat).
//
//	{
//	  "version": 1,                      // Version; changes only if a field changes meaning
//	  "at": "2026-01-02T03:04:05.000Z",  // when gathering began, on this machine's clock
//	  "timeout_ms": 5000,                // the deadline each region had
//	  "ok": false,                       // every region UP and every link OK; the exit status is 0 iff true
//	  "regions": [                       // in config order
//	    {
//	      "name": "a",
//	      "primary": true,               // the config's first region
//	      "status": "UP",                // the worse of health.status and store.status (order: UP, DEGRADED, DOWN, UNREACHABLE)
//	      "health": {                    // null when the config gives no health URL
//	        "status": "UP",              // UP | DEGRADED | DOWN as /health says, or UNREACHABLE
//	        "latency_ms": 3,             // the request's round trip; null when it did not answer
//	        "failing_checks": []         // names of the checks /health reports not UP, sorted
//	        // "reason": present only when UNREACHABLE, see Reasons
//	      },
//	      "store": {                     // the region's database, read directly
//	        "status": "UP",              // UP | UNREACHABLE
//	        "latency_ms": 1              // one read's round trip; null when it did not answer
//	        // "reason": present only when UNREACHABLE
//	      },
//	      "staged": 0,                   // writes waiting in its stage; null if unknown
//	      "ownership": {                 // null without single-writer tables, or when the store did not answer
//	        "partitions": 64,            // the map's partition count
//	        "unassigned": 0,             // partitions with no home
//	        "homes": [{"region": "a", "partitions": 64, "max_epoch": 1}]  // by region name
//	      }
//	    }
//	  ],
//	  "links": [                         // every ordered pair: by from, then to, in config order
//	    {
//	      "from": "a", "to": "b",        // the link carrying a's changes to b
//	      "status": "OK",                // OK | OVER_TARGET | UNKNOWN
//	      // "reason": present only when UNKNOWN: the end that failed and why, e.g. "b: timeout"
//	      "tier": "tier1",               // the strictest tier among the tables
//	      "target_ms": 0,                // its RPO target
//	      "rpo_ms": 0,                   // the live RPO as the data says; null when UNKNOWN
//	      "pending": 0,                  // changes of a's that b has not applied; null when UNKNOWN
//	      "pending_bytes": 0,            // their key and value bytes; null when UNKNOWN
//	      "last_contact": "2026-01-02T03:04:04.500Z",  // null unless a /health tells
//	      "since_contact_ms": 500,       // at minus last_contact, at least 0; null with it
//	      "contact_reported_by": "a",    // whose /health told it; null with it
//	      "reported_rpo_ms": 0           // the RPO a's replicator reports for the link in a's /health; null if none
//	    }
//	  ]
//	}
//
// Last contact comes from the "replication" section of the /health
// reports: from's link to to (when to last answered from's shipper), else
// to's link to from (when from last answered to's), as
// "contact_reported_by" says. A report with several links to the same
// peer (one per tier) gives the latest contact.
//
// With --watch, `xregion status --json` writes one report per line
// (compact JSON Lines); without it, one indented report.
//
// # Reasons
//
// What could not be read says why in a fixed word (the Reason constants):
// "timeout", "refused", "unknown host", "unreachable", "no store", "region
// mismatch", "bad answer", "wrong region", "error", "sqlstate XXXXX" or
// "http NNN". No error text reaches a report, since it can quote a host,
// a DSN or a password; the errors go to WithLogger's logger.
//
// # Hazards
//
// HAZARD: the live RPO is an upper bound. Backlog counts every committed
// change to has not applied, also those a synchronous peer already holds
// staged until the changelog stream applies them, so a healthy tier-1
// link under load can read OVER_TARGET for a moment. "reported_rpo_ms",
// the replicator's own figure, knows the staged ones.
//
// HAZARD: the RPO is timed on from's database clock, but "at" and
// "since_contact_ms" on this machine's: skew between them shows in
// since_contact_ms (clamped at 0), never in rpo_ms.
//
// HAZARD: opening a region is config.File.Open: it creates the store's
// schema and declared tables in a database that lacks them. Point the
// config at the regions' real databases.
//
// HAZARD: a link's status reads only the data. An idle link whose peer has
// stopped answering is OK here while nothing is pending; its last contact
// (from /health) shows it.
//
// Report, WriteText and the Reason words are safe for concurrent use; a
// Monitor is too, gathering one report at a time.
package status
