package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

// opsTimeout bounds the probes of the failover tests: a blackholed region
// costs this much per probe.
const opsTimeout = 500 * time.Millisecond

// opsDeployment is two regions, a and b, on fresh databases behind fault
// proxies, and a config file naming them.
type opsDeployment struct {
	t       *testing.T
	cluster *regiontest.Cluster
	path    string
	cfg     config.File
}

// newOpsDeployment writes a config of regions a and b (through their
// proxies), a last-write-wins table payments and a single-writer table
// accounts of 4 partitions; extra is appended to the file.
func newOpsDeployment(t *testing.T, extra string) *opsDeployment {
	t.Helper()
	c := regiontest.New(t, regiontest.WithRegions("a", "b"))
	var b strings.Builder
	b.WriteString("regions:\n")
	for _, r := range c.Regions() {
		// The regions are set up: the commands refuse a database with no store.
		_, err := pgstore.New(t.Context(), r.Direct, r.Name)
		require.NoError(t, err)
		fmt.Fprintf(&b, "  - name: %s\n    dsn: postgres://postgres@%s/%s\n    kafka: [\"127.0.0.1:1\"]\n", r.Name, r.Proxy.Addr(), r.DBName)
	}
	b.WriteString("tables:\n  - {name: payments, strategy: lww, tier: 2}\n  - {name: accounts, strategy: single-writer, tier: 2}\npartitions: 4\n")
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "xregion.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return &opsDeployment{t: t, cluster: c, path: path, cfg: cfg}
}

// xr runs xregion with the deployment's config and returns the exit
// status, stdout and stderr.
func (d *opsDeployment) xr(stdin string, args ...string) (int, string, string) {
	d.t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(d.t.Context(), append([]string{"--config", d.path}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// open opens region name as the command does; closed at the test's end.
func (d *opsDeployment) open(name xregion.Region) *config.Opened {
	d.t.Helper()
	r, err := d.cfg.Region(name)
	require.NoError(d.t, err)
	o, err := d.cfg.Open(d.t.Context(), r)
	require.NoError(d.t, err)
	d.t.Cleanup(o.Close)
	return o
}

// homeInA gives every partition the home a, in b's map. (Bootstrapping in
// a and shipping the map would wait on every open transaction of the
// server, which pgstore's Changes does not read past.)
func (d *opsDeployment) homeInA() {
	d.t.Helper()
	_, err := d.open("b").Router.Bootstrap(d.t.Context(), func(int) xregion.Region { return "a" })
	require.NoError(d.t, err)
	for _, o := range d.owners("b") {
		require.Equal(d.t, xregion.Region("a"), o.Home, o.String())
	}
}

// owners reads b's ownership map afresh.
func (d *opsDeployment) owners(name xregion.Region) []partition.Ownership {
	d.t.Helper()
	return d.open(name).Router.Owners()
}

var proposalID = regexp.MustCompile(`proposal ([0-9a-f]{8}) recorded`)

// propose proposes a failover from a to b by alice and returns its id.
func (d *opsDeployment) propose(args ...string) string {
	d.t.Helper()
	code, stdout, stderr := d.xr("", append([]string{"failover", "propose", "--from", "a", "--to", "b", "--by", "alice",
		"--reason", "a lost power", "--timeout", opsTimeout.String()}, args...)...)
	require.Equal(d.t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	m := proposalID.FindStringSubmatch(stdout)
	require.NotNil(d.t, m, stdout)
	return m[1]
}

func (d *opsDeployment) approve(id, by string) (int, string, string) {
	d.t.Helper()
	return d.xr("", "failover", "approve", id, "--by", by, "--timeout", opsTimeout.String())
}

// requireInOrder checks that each of want appears in s, each after the one before.
func requireInOrder(t *testing.T, s string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(s[at:], w)
		require.GreaterOrEqual(t, i, 0, "%q not found after byte %d in:\n%s", w, at, s)
		at += i + len(w)
	}
}

func TestFailoverPropose_refusedWhileFromAnswers(t *testing.T) {
	d := newOpsDeployment(t, "")
	code, stdout, stderr := d.xr("", "failover", "propose", "--from", "a", "--to", "b", "--by", "alice", "--timeout", opsTimeout.String())
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "a answers (store: answered in")
	require.Contains(t, stderr, "refused: a answers")
	require.Contains(t, stderr, "--force")

	code, stdout, stderr = d.xr("", "failover", "list", "--all", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "no open failover proposals")
}

func TestFailoverPropose_usage(t *testing.T) {
	d := newOpsDeployment(t, "")
	for _, args := range [][]string{
		{"failover", "propose", "--to", "b", "--by", "alice"},
		{"failover", "propose", "--from", "a", "--to", "a", "--by", "alice"},
		{"failover", "approve", "--by", "bob"},
		{"failover", "approve", "not-an-id", "--by", "bob"},
		{"failover", "approve", "0123abcd"},
	} {
		code, stdout, stderr := d.xr("", args...)
		require.Equal(t, 2, code, "%v\nstdout:\n%s\nstderr:\n%s", args, stdout, stderr)
		require.Contains(t, stderr, "Usage:", args)
	}
	code, _, stderr := d.xr("", "failover", "propose", "--from", "a", "--to", "c", "--by", "alice")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `"c" is not in the config`)
}

func TestFailover_proposeApprove(t *testing.T) {
	d := newOpsDeployment(t, "")
	d.homeInA()
	// A write a made synchronously: staged in b, acknowledged, never applied.
	staged := xregion.Write{Table: "payments", Record: xregion.Record{Key: "pay-staged", Value: []byte("12.50")}}
	a := d.open("a")
	v, err := a.Clock.Stamp("a", xregion.Version{})
	require.NoError(t, err)
	staged.Record.Version = v
	require.NoError(t, d.open("b").Store.(xregion.Stager).Stage(t.Context(), "a", []xregion.Write{staged}))

	d.cluster.Region("a").Proxy.Blackhole()
	id := d.propose()

	code, stdout, stderr := d.xr("", "failover", "list", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, id)
	require.Contains(t, stdout, "1 of 2: alice")
	require.Contains(t, stderr, "proposals not listed: region a: the database does not answer")

	for _, by := range []string{"alice", " Alice "} {
		code, stdout, stderr = d.approve(id, by)
		require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		require.Contains(t, stderr, "the proposer cannot approve their own proposal")
		require.Contains(t, stderr, "it needs 1 more approval, from another person")
	}
	for _, o := range d.owners("b") {
		require.Equal(t, xregion.Region("a"), o.Home, "a refused approval moved nothing")
	}

	code, stdout, stderr = d.approve(id, "bob")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout,
		"approved by bob: it has the 2 approvals it needs",
		"1/5 fence", "done", "a does not answer (store: no answer within 500ms",
		"2/5 resolve staged writes", "done", "1 staged writes resolved in b: 1 applied",
		"3/5 move homes", "done", "4 partitions moved from a to b: 0-3 at epoch 2",
		"4/5 translate bridge groups", "skipped", "no bridge from a to b",
		"5/5 mark done", "done", "proposal "+id+" is done, by bob")

	for _, o := range d.owners("b") {
		require.Equal(t, xregion.Region("b"), o.Home, o.String())
		require.Equal(t, uint64(2), o.Epoch, o.String())
		require.Equal(t, partition.MoveFailover, o.How, o.String())
		require.Equal(t, []string{"alice", "bob"}, o.By, o.String())
	}
	got, err := d.open("b").Store.Get(t.Context(), "payments", "pay-staged")
	require.NoError(t, err)
	require.Equal(t, "12.50", string(got.Value))

	code, _, stderr = d.approve(id, "carol")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "was carried out at")
	code, stdout, _ = d.xr("", "failover", "list", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "no open failover proposals")
	code, stdout, _ = d.xr("", "failover", "list", "--all", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code)
	require.Contains(t, stdout, id)
	require.Contains(t, stdout, "done")
}

func TestFailoverApprove_twiceRefused(t *testing.T) {
	d := newOpsDeployment(t, "approvals: 3\n")
	d.homeInA()
	d.cluster.Region("a").Proxy.Blackhole()
	id := d.propose()

	code, stdout, stderr := d.approve(id, "bob")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "2 of 3 approvals (alice, bob). It needs 1 more approval")
	require.Contains(t, stdout, "failover approve "+id+" --by <their name>")
	require.NotContains(t, stdout, "1/5 fence")

	code, stdout, stderr = d.approve(id, "BOB")
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stderr, "bob: already approved by this person")

	code, stdout, stderr = d.xr("", "failover", "approve", id, "--by", "carol", "--to", "b", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "3 approvals it needs")
	for _, o := range d.owners("b") {
		require.Equal(t, []string{"alice", "bob", "carol"}, o.By, o.String())
	}
}

func TestFailover_oneApproval(t *testing.T) {
	d := newOpsDeployment(t, "approvals: 1\n")
	d.homeInA()
	d.cluster.Region("a").Proxy.Blackhole()
	code, stdout, stderr := d.xr("", "failover", "propose", "--from", "a", "--to", "b", "--by", "alice", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	m := proposalID.FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	require.Contains(t, stdout, "it is approved. Carry it out with:")
	require.Contains(t, stdout, "failover approve "+m[1]+" --by alice --timeout "+opsTimeout.String())

	code, stdout, stderr = d.approve(m[1], "alice")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout, "3/5 move homes", "done", "5/5 mark done", "done")
	for _, o := range d.owners("b") {
		require.Equal(t, []string{"alice"}, o.By, o.String())
	}
}

func TestFailoverApprove_fenceStopsWhileFromAnswers(t *testing.T) {
	d := newOpsDeployment(t, "")
	d.homeInA()
	a := d.cluster.Region("a")
	a.Proxy.Blackhole()
	id := d.propose()
	a.Proxy.Heal() // a came back before the approval

	code, stdout, stderr := d.approve(id, "bob")
	require.Equal(t, exitFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout, "1/5 fence", "FAILED", "a answers (store: answered in", "stopped: nothing after step 1 ran")
	require.NotContains(t, stdout, "2/5")
	for _, o := range d.owners("b") {
		require.Equal(t, xregion.Region("a"), o.Home, o.String())
	}

	a.Proxy.Blackhole() // gone again: approving again goes on
	code, stdout, stderr = d.approve(id, "bob")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout, "running the steps an earlier run did not finish", "1/5 fence", "done", "3/5 move homes", "done", "5/5 mark done", "done")
	for _, o := range d.owners("b") {
		require.Equal(t, xregion.Region("b"), o.Home, o.String())
	}
}

func TestFailoverApprove_forced(t *testing.T) {
	d := newOpsDeployment(t, "")
	d.homeInA()
	id := d.propose("--force")
	code, stdout, stderr := d.approve(id, "bob")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout, "1/5 fence", "done", "a answers", "but the proposal was made with --force", "5/5 mark done", "done")
}

func TestFailoverApprove_bridgeNotDone(t *testing.T) {
	d := newOpsDeployment(t, "bridges:\n  - {from: a, to: b, group: xregion-bridge-ab, topics: [orders], consumer_groups: [billing]}\n")
	d.homeInA()
	d.cluster.Region("a").Proxy.Blackhole()
	id := d.propose()

	code, stdout, stderr := d.approve(id, "bob")
	require.Equal(t, exitFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout,
		"3/5 move homes", "done",
		"4/5 translate bridge groups", "NOT DONE", "0 of 1 group translations done",
		"group billing topic orders: NOT DONE: a's Kafka (127.0.0.1:1)",
		"what to do:", "run approve again",
		"5/5 mark done", "NOT DONE", "the proposal stays approved: translate bridge groups not done")
	for _, o := range d.owners("b") {
		require.Equal(t, xregion.Region("b"), o.Home, "homes moved although the bridge step was not done")
	}

	code, stdout, _ = d.xr("", "failover", "list", "--timeout", opsTimeout.String())
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "approved, unfinished: translate bridge groups")

	// Approving again retries only what is not done.
	code, stdout, stderr = d.approve(id, "bob")
	require.Equal(t, exitFail, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	requireInOrder(t, stdout,
		"1/5 fence", "done", "earlier, at",
		"2/5 resolve staged writes", "done", "earlier, at",
		"3/5 move homes", "done", "earlier, at",
		"4/5 translate bridge groups", "NOT DONE")
}

func TestFailover_help(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"failover", "--help"}, "The approval that completes the count runs the steps"},
		{[]string{"failover", "propose", "--help"}, "--force"},
		{[]string{"failover", "list", "--help"}, "--all"},
		{[]string{"failover", "approve", "--help"}, "Running approve again finishes the work"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, strings.NewReader(""), &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			require.Contains(t, stdout.String(), tc.want)
			require.Contains(t, stdout.String(), "--timeout")
		})
	}
}
