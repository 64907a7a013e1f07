package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

// shortConfig is the story in about four seconds: b dark from 1 s to 2 s.
func shortConfig() config {
	cfg := defaultConfig()
	cfg.duration, cfg.darkAt, cfg.darkFor, cfg.tick = 4*time.Second, time.Second, time.Second, 250*time.Millisecond
	cfg.oneWay, cfg.payTimeout = 2*time.Millisecond, 100*time.Millisecond
	return cfg
}

// TestRun runs the example in memory and checks its story.
func TestRun(t *testing.T) {
	checkStory(t, shortConfig())
}

// TestRun_PostgreSQL runs it on PostgreSQL, through the fault proxy.
func TestRun_PostgreSQL(t *testing.T) {
	cfg := shortConfig()
	cfg.pg = regiontest.ServerDSN(t)
	checkStory(t, cfg)
}

// row is one printed line of the table.
type row struct {
	at             time.Duration
	dark           bool
	acked, refused int
	rpo1, rpo2     time.Duration
	pending2       int
	line           string
}

// checkStory runs the program and checks what it printed: payments refused
// while b is dark and acknowledged again once it is back, the Tier 2 RPO
// above zero while b is dark, and at the end both tiers at RPO 0 with every
// acknowledged payment in b.
func checkStory(t *testing.T, cfg config) {
	var out strings.Builder
	err := run(t.Context(), &out, cfg)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	rows := parseRows(t, out.String())
	require.Len(t, rows, int(cfg.duration/cfg.tick)+1, "a row per tick and one at the end")

	var dark, after []row
	for _, r := range rows[:len(rows)-1] {
		switch {
		case r.dark:
			dark = append(dark, r)
		case r.at > cfg.darkAt+cfg.darkFor:
			after = append(after, r)
		}
	}
	require.Len(t, dark, int(cfg.darkFor/cfg.tick))
	last := dark[len(dark)-1] // b has been dark for a while: nothing gets through
	require.Zero(t, last.acked, last.line)
	require.Positive(t, last.refused, "payments are refused while b is dark: %s", last.line)
	require.Positive(t, last.rpo2, "the Tier 2 RPO grows while b is dark: %s", last.line)
	require.Positive(t, last.pending2, last.line)

	ackedAfter := 0
	for _, r := range after {
		ackedAfter += r.acked
	}
	require.Positive(t, ackedAfter, "payments are acknowledged again once b is back")

	end := rows[len(rows)-1]
	require.Zero(t, end.rpo1, end.line)
	require.Zero(t, end.rpo2, end.line)
	require.Zero(t, end.pending2, end.line)
	require.Regexp(t, `b holds (\d+) of the (\d+) acknowledged`, out.String())
}

func parseRows(t *testing.T, out string) []row {
	t.Helper()
	var rows []row
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 7 || (f[1] != "up" && f[1] != "dark") {
			continue
		}
		r := row{dark: f[1] == "dark", line: line}
		var err error
		r.at, err = time.ParseDuration(f[0])
		require.NoError(t, err, line)
		r.acked, err = strconv.Atoi(f[2])
		require.NoError(t, err, line)
		r.refused, err = strconv.Atoi(f[3])
		require.NoError(t, err, line)
		r.rpo1, err = time.ParseDuration(f[4])
		require.NoError(t, err, line)
		r.rpo2, err = time.ParseDuration(f[5])
		require.NoError(t, err, line)
		r.pending2, err = strconv.Atoi(f[6])
		require.NoError(t, err, line)
		rows = append(rows, r)
	}
	return rows
}

func TestConfig_validate(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*config)
		want string
	}{
		"default":           {func(*config) {}, ""},
		"negative latency":  {func(c *config) { c.oneWay = -time.Millisecond }, "-latency"},
		"dark too long":     {func(c *config) { c.darkFor = 8 * time.Second }, "b comes back at 11s"},
		"not whole seconds": {func(c *config) { c.darkAt = 1500 * time.Millisecond }, "whole multiples"},
		"never dark":        {func(c *config) { c.darkFor = 0 }, "at least"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := defaultConfig()
			tc.edit(&cfg)
			err := cfg.validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
