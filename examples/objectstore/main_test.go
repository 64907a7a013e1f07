package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// TestRun runs the example in memory, as it runs by default and with the
// loss at other places of the batch, and checks its story.
func TestRun(t *testing.T) {
	for _, c := range []struct {
		items, every, lostAfter int
		checkpoint              int
		reprocessed             string
	}{
		{100, 10, 47, 40, "reprocessed: 7 (items 41-47, which a processed after its last checkpoint)"},
		{100, 10, 40, 40, "reprocessed: 0\n"},                                                      // lost right after a checkpoint
		{100, 10, 41, 40, "reprocessed: 1 (item 41, which a processed after its last checkpoint)"}, // right after the item that follows one
		{25, 10, 5, 0, "reprocessed: 5 (items 1-5, which a processed before it saved any checkpoint)"},
		{30, 10, 30, 30, "reprocessed: 0\n"}, // lost after the whole batch
	} {
		t.Run(fmt.Sprintf("%d/%d/%d", c.items, c.every, c.lostAfter), func(t *testing.T) {
			opts := defaultOptions()
			opts.items, opts.every, opts.lostAfter = c.items, c.every, c.lostAfter
			checkStory(t, opts, c.checkpoint, c.reprocessed)
		})
	}
}

// TestRun_PostgreSQL runs it on PostgreSQL, through the fault proxy.
func TestRun_PostgreSQL(t *testing.T) {
	opts := defaultOptions()
	opts.pg = regiontest.ServerDSN(t)
	checkStory(t, opts, 40, "reprocessed: 7 (items 41-47, which a processed after its last checkpoint)")
}

func TestRun_Options(t *testing.T) {
	for _, opts := range []options{
		{items: 0, every: 1, lostAfter: 1},
		{items: 10, every: 0, lostAfter: 1},
		{items: 10, every: 1, lostAfter: 11},
		{items: 10, every: 1, lostAfter: 0},
		{items: 10, every: 1, lostAfter: 1, oneWay: -1},
	} {
		require.Error(t, run(t.Context(), &strings.Builder{}, opts), "%+v", opts)
	}
}

// checkStory runs the program and checks what it printed: b resumes from
// the checkpoint a saved last, the items a processed after it are the only
// ones processed twice, every item is processed, and b holds every result.
func checkStory(t *testing.T, opts options, checkpoint int, reprocessed string) {
	t.Helper()
	var b strings.Builder
	err := run(t.Context(), &b, opts)
	out := b.String()
	t.Log("\n" + out)
	require.NoError(t, err)

	holds := "checkpoint b holds: none"
	if checkpoint > 0 {
		holds = fmt.Sprintf("checkpoint b holds: %d (saved in a)", checkpoint)
	}
	for _, want := range []string{
		fmt.Sprintf("region a is lost after item %d", opts.lostAfter),
		holds,
		fmt.Sprintf("resumes at item %d", checkpoint+1),
		fmt.Sprintf("items processed at least once: %d of %d", opts.items, opts.items),
		reprocessed,
		"processed twice at or before the checkpoint: 0",
		fmt.Sprintf("result objects b lists under results/item-: %d", opts.items),
	} {
		require.Contains(t, out, want)
	}
}
