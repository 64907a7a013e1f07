package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

const good = `
regions:
  - name: a
    dsn: postgres://xregion@db.a.internal:5432/payments
    kafka: [kafka-1.a.internal:9092]
    health: https://api.a.internal/health
  - name: b
    dsn: postgres://xregion@db.b.internal:5432/payments
    kafka: [kafka-1.b.internal:9092]
tables:
  - {name: payments, strategy: lww, tier: 1}
  - {name: balances, strategy: crdt, tier: 1}
  - {name: accounts, strategy: single-writer, tier: 2}
bridges:
  - {from: a, to: b, group: xregion-bridge-ab, topics: [orders], consumer_groups: [billing]}
`

func TestParse(t *testing.T) {
	f, err := Parse(strings.NewReader(good))
	require.NoError(t, err)
	require.Equal(t, xregion.Region("a"), f.Primary().Name)
	require.Equal(t, DefaultApprovals, f.Approvals, "default")
	require.Equal(t, DefaultPartitions, f.Partitions, "default")
	require.Len(t, f.Tables, 3)
	require.Equal(t, "tier2", f.Tables[2].TierOf().Name)
	b, err := f.Region("b")
	require.NoError(t, err)
	require.Empty(t, b.Health)
	_, err = f.Region("c")
	require.ErrorIs(t, err, xregion.ErrInvalid)
	require.ErrorContains(t, err, `"c" is not in the config`)
}

func TestParse_Refuses(t *testing.T) {
	for name, tc := range map[string]struct{ edit, says string }{
		"empty":             {"", "empty"},
		"misspelt key":      {strings.Replace(good, "tables:", "tabels:", 1), "tabels"},
		"one region":        {strings.Replace(good, "  - name: b\n", "  - name: a\n", 1), "named twice"},
		"bad dsn":           {strings.Replace(good, "postgres://xregion@db.b.internal:5432/payments", "postgres://x:secret@db:notaport/p", 1), "does not parse"},
		"no dsn":            {strings.Replace(good, "    dsn: postgres://xregion@db.b.internal:5432/payments\n", "", 1), "no dsn"},
		"bad region name":   {strings.Replace(good, "name: a\n", "name: \"A B\"\n", 1), "region 1"},
		"health not http":   {strings.Replace(good, "https://api.a.internal/health", "api.a.internal/health", 1), "not an http(s) URL"},
		"bad strategy":      {strings.Replace(good, "strategy: crdt", "strategy: merge", 1), `"merge"`},
		"bad tier":          {strings.Replace(good, "tier: 2", "tier: 5", 1), "want 1 to 4"},
		"table twice":       {strings.Replace(good, "name: balances", "name: payments", 1), "named twice"},
		"bad table name":    {strings.Replace(good, "name: balances", "name: \"bal ances\"", 1), "table 2"},
		"bridge to nowhere": {strings.Replace(good, "to: b, group", "to: c, group", 1), `"c" is not in the config`},
		"bridge no kafka":   {strings.Replace(good, "    kafka: [kafka-1.b.internal:9092]\n", "", 1), "names no kafka brokers"},
		"approvals":         {good + "approvals: 11\n", "approvals"},
		"partitions":        {good + "partitions: -1\n", "partitions"},
		"not yaml":          {"regions: [", "file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.edit))
			require.Error(t, err)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.ErrorContains(t, err, tc.says)
			require.NotContains(t, err.Error(), "secret", "an error never quotes a password")
		})
	}
}

func TestParse_TooLarge(t *testing.T) {
	_, err := Parse(strings.NewReader(good + "#" + strings.Repeat("x", maxFileBytes)))
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

func TestLoad_NoFile(t *testing.T) {
	_, err := Load("/nonexistent/xregion.yaml")
	require.Error(t, err)
	require.Contains(t, err.Error(), "no such file")
}

// Whatever bytes the file holds, Parse returns a config that validates or
// an error that says what is wrong; it never panics.
func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("regions: [{name: a, dsn: x}, {name: b, dsn: y}]\ntables: [{name: t, strategy: lww, tier: 1}]")
	f.Add("approvals: 99999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Parse(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, xregion.ErrInvalid) {
				t.Fatalf("error %v is not an InvalidError", err)
			}
			return
		}
		require.NoError(t, cfg.Validate())
	})
}
