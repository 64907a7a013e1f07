// Package storetest holds the contract every xregion.Store must pass, as one
// test suite that each implementation runs against itself.
//
// The replicators, resync and the lost-update ledger rely on a Store for
// their guarantees: exactly-once apply, a changelog a shipper can tail
// without skipping anything, conflicts recorded once. Those guarantees are
// written down in xregion.Store's documentation; this package is the same
// contract in executable form. store/memstore, the reference, passes it;
// store/pgstore passes it on a real PostgreSQL; a Store of your own must
// pass it before anything else is built on it.
//
// # Running it
//
// Call Run from a test, with a function that returns a new, empty store for
// a region. It is called once or twice per subtest (twice when a subtest
// needs two regions), so each call must give a store that shares nothing
// with the others: a fresh schema, database or key prefix. Register the
// cleanup with t.Cleanup.
//
//	func TestStore_Contract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, region xregion.Region) xregion.Store {
//			s, err := mystore.Open(t.Context(), dsn, region, mystore.WithSchema(uniqueSchema(t)))
//			require.NoError(t, err)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run one part with the usual filter, e.g.
// `go test -run 'Contract/Watermark/ExactlyOnce'`. Subtests are named
// after the method they exercise:
//
//	Region
//	DefineTable/ InvalidName LongestName NilResolver Idempotent RedefineKeepsRecords
//	Get/        NotFound UnknownTable RoundTrip NotAliased
//	Apply/      NewerReplaces OlderUnchanged ResultCounts Empty Tombstone SameKeyTwice
//	            SeveralTables UnknownTable InvalidRecord ResolverError
//	Changes/    Order OnlyChanged Time Origin OriginPages After Limit InvalidQuery
//	            ConcurrentWriters
//	Watermark/  Unknown Advance Duplicate Mismatch IndependentPeers Atomic InvalidBatch ExactlyOnce
//	Ledger/     TwoRegions Fenced Idempotent Supersede Paging InvalidLimit
//	Backlog/    CountsWhatAPeerLacks AgreesWithChanges InvalidOrigin
//	Positions/  BeyondTheHead Advance (Advance skipped for a store that is
//	            not an xregion.PositionAdvancer)
//	Stage/      InvisibleUntilApplied ApplyFromTheSameRegionUnstages Invalid
//	            UnknownTable Holding Withdraw WithdrawBeforeStage WithdrawInvalid
//	            (skipped for a store that is not an xregion.Stager)
//	Retention/  TruncateThrough Limit TruncateBefore TruncateInvalid CollectTombstones
//	            TrimLedger AckLostUpdates SweepStage
//	            (skipped for a store that is not an xregion.Retainer)
//	Lease       (skipped for a store that is not an xregion.Leaser)
//	Context/    Cancelled
//
// # What it checks, and what it leaves to the implementation
//
// The suite tests only what xregion.Store documents. It brings its own
// resolvers (a plain last-write-wins, a resolver that appends values so that
// any write applied twice shows, and one that refuses a record) rather than
// using lww or crdt, so that a failure here is a Store's fault. It does not
// assume how positions are numbered, only that they strictly increase in
// changelog order; nor how ledger IDs are numbered, only that they
// increase; nor which of two errors comes first when a batch is wrong in two
// ways.
//
// Two parts race goroutines against the store: Changes/ConcurrentWriters (8
// writers of 50 batches while a reader pages through the changelog resuming
// after the last position it read; every change must be read exactly once,
// which is the outbox trap described on xregion.Position) and
// Watermark/ExactlyOnce (4 shippers of the same peer batches; each batch
// must take effect once). A race shows up only in some runs, so run them
// often now and then:
//
//	go test -race -count=20 -run 'Contract/(Changes|Watermark)/(ConcurrentWriters|ExactlyOnce)'
//
// # Hazards
//
//   - A Store need not show a change the moment Apply returns: it may hold
//     changes back while an older transaction is open, even one made by
//     another test against the same server. So the suite reads the changelog
//     through a marker: it writes a record to a table of its own,
//     "storetest_barrier", and reads until that record appears. Those marker
//     records are in the changelog of every store the suite makes, and the
//     suite waits up to 30 s for one before it fails.
//   - RoundTrip stores a value of xregion.MaxValueLen (4 MiB) and
//     InvalidRecord sends one byte more; a store with a lower limit of its
//     own fails there, as it should.
//   - The suite runs its subtests one after another and makes about fifty
//     stores; keep store creation cheap (a schema, not a database, per call)
//     if the suite is to stay fast.
package storetest
