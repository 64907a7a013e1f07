// Package report writes a drill's outcome as one self-contained HTML page:
// the verdict, a table of each tier's targets against what was measured,
// and a timeline of the write rate and the live RPO with the drill's
// events (the region killed, the loss detected, the failover, the region
// restored, the failback, the verification) marked on it.
package report
