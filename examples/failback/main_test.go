package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// TestRun runs the example in memory and checks its story; a second run
// prints exactly the same, since the regions' clocks are manual.
func TestRun(t *testing.T) {
	out := checkStory(t, options{})
	var again strings.Builder
	require.NoError(t, run(t.Context(), &again, options{}))
	require.Equal(t, out, again.String(), "the output is the same on every run")
}

// TestRun_PostgreSQL runs it on PostgreSQL.
func TestRun_PostgreSQL(t *testing.T) {
	checkStory(t, options{pg: regiontest.ServerDSN(t)})
}

// checkStory runs the program and checks what it printed: the plan names
// a's unshipped writes and the conflict, the unshipped writes are recovered
// in b, the loser of the conflict is in a's ledger, the balances add up in
// both regions, and the regions verify equal.
func checkStory(t *testing.T, opts options) string {
	var b strings.Builder
	err := run(t.Context(), &b, opts)
	out := b.String()
	t.Log("\n" + out)
	require.NoError(t, err)

	for _, want := range []string{
		// The dry run.
		"resync plan: a (returning) and b, keys found by changelogs",
		"b lacks 5 changes of a", // all of them: the plan saw every unshipped write
		"a lacks 3 changes of b",
		`unshipped  payments "pay-1003" written in a at `,
		`unshipped  payments "pay-1002" written in a at `,
		`conflict   payments "pay-1002": `,
		// What became of a's unshipped writes.
		`pay-1003    a at 09:01:05: recovered, b holds {"amount":"15.00","status":"authorized"}`,
		`pay-1004    a at 09:01:07: recovered, b holds {"amount":"8.00","status":"authorized"}`,
		"pay-1002    a at 09:01:09: lost the conflict to b's later edit: kept in a's lost-update ledger",
		"merchant-7  a at 09:01:08: recovered, merged into b's balance: 105.50",
		// The conflict's loser, and the state both regions hold.
		`a: payments pay-1002 {"amount":"30.00","status":"disputed"}, written in a at 09:01:09, lost (concurrent) to the write from b at 09:06:12`,
		"b: empty",
		`payments pay-1002: a {"amount":"30.00","status":"settled"}, b {"amount":"30.00","status":"settled"}`,
		"balances merchant-7: a 105.50, b 105.50",
		"payments  compared 5, differ 0",
		"balances  compared 1, differ 0",
		"a and b verified equal.",
	} {
		require.Contains(t, out, want)
	}
	return out
}
