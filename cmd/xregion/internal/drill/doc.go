// Package drill runs `xregion drill`: a game day that rehearses the loss
// of a region and says whether each tier met its targets.
//
// Run takes two regions (Env: Embedded, in this process; or Postgres, on
// the databases a config file names) and, with real time:
//
//   - writes a steady load in the primary, a: payments on Tier 1
//     (replicate.Sync, Strict: RPO 0) and stock updates on Tier 2
//     (replicate.Async), counting every acknowledged write;
//   - kills a: its links blackholed (a regiontest.MemLink in memory, a
//     regiontest.Proxy in front of its database on PostgreSQL), its
//     /health endpoint behind a proxy gone dark, its processes closed;
//   - lets a health.Detector probing a's /health declare it down, and a
//     router.Router follow the verdict; promotes the standby, b, which
//     applies the payments a staged in it and serves both tiers;
//   - measures the time to detect, the RTO (the kill to the first write
//     b acknowledged), and per tier the acknowledged writes b lacks and
//     how long before the kill the oldest of them was acknowledged,
//     against the live RPO the lag tracker reported at the kill;
//   - brings a back, fails back with resync.Run, verifies both regions
//     equal and every acknowledged write in both.
//
// The Result holds a report.Drill (Print writes its table; package
// report draws it as an HTML page) and the headline figures. A target
// missed makes a row FAIL and Pass false; an error means the drill could
// not run.
package drill
