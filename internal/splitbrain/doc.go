// Package splitbrain is the harness of xregion's split-brain convergence
// tests, and the tests themselves (in its _test files): regions accept
// concurrent writes for the same keys while they cannot see each other, then
// heal, and every conflict strategy must leave every region holding the same
// data, with every write that did not survive accounted for.
//
// Most cases exchange changelogs by hand, as examples/quickstart does, which
// lets a test split the regions into any sides it likes: Ship copies the
// changes one region made to another, from the receiver's watermark on;
// Exchange ships between every pair until no region lacks a change another
// made. A network split is simply a time during which the test does not
// ship between two sides. The CRDT test also runs with the asynchronous
// replicator (replicate.Async) in every region, shipping to the other
// regions' databases through regiontest's fault proxies; there the
// split is every proxy blackholed (a proxy sits in front of one
// region's database, so only a full split can be made that way), and
// the test checks that nothing crossed it.
//
// What the tests assert, strategy by strategy, is written next to each test:
// lww_test.go, crdt_test.go and singlewriter_test.go.
package splitbrain
