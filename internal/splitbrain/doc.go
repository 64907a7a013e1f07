// Package splitbrain is the harness of xregion's split-brain convergence
// tests, and the tests themselves (in its _test files): regions accept
// concurrent writes for the same keys while they cannot see each other, then
// heal, and every conflict strategy must leave every region holding the same
// data, with every write that did not survive accounted for.
//
// The asynchronous replicator is not used: regions exchange changelogs by
// hand, as examples/quickstart does. Ship copies the changes one region made
// to another, from the receiver's watermark on; Exchange ships between every
// pair until no region lacks a change another made. A network partition is
// simply a time during which the test does not ship between two sides.
//
// What the tests assert, strategy by strategy, is written next to each test
// in splitbrain_test.go.
package splitbrain
