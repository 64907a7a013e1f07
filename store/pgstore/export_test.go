package pgstore

import "time"

// SetBeforeCommit makes every Apply of s call fn after its writes are sent
// and before it commits, so a test can hold a transaction open.
func SetBeforeCommit(s *Store, fn func()) { s.beforeCommit = fn }

// AlwaysCopy makes Apply write every new row with COPY.
func AlwaysCopy(s *Store) { s.copySaving = time.Hour }

// NeverValues makes every statement send its rows as arrays through unnest.
func NeverValues(s *Store) { s.valuesMax = 0 }

// RecordColumnDefs are the columns of a data table after its key, for tests
// that build a table of an older layout.
const RecordColumnDefs = recordColumnDefs

// SmallSpans makes Backlog cut spans of rows changes (at least) once it
// counted cutAt changes directly.
func SmallSpans(s *Store, rows, cutAt int) { s.spanRows, s.spanCutAt = rows, cutAt }
