// Package statustest is a deployment for the tests of xregion status: two
// regions, "a" (the primary) and "b", on regiontest databases behind fault
// proxies, each with a /health endpoint served by package health, and the
// config file that names them. The tests of package status and of the
// command share it, so both pin the same golden report.
//
// The regions replicate two tables, payments (lww, tier 1) and accounts
// (single-writer, tier 2), with an ownership map of Partitions partitions
// bootstrapped in a (even partitions at home in a, odd ones in b) and
// shipped to b, so a fresh Deployment has nothing pending either way. Each
// /health reports its database (a critical check) and one tier-1 link to
// the other region, last heard from a second before New.
//
// HAZARD: New and Write end the test on failure; call them from the
// test's goroutine.
package statustest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/pgstore"
)

// Partitions is the ownership map's partition count.
const Partitions = 4

// Timeout is the timeout the golden report was gathered with.
const Timeout = 20 * time.Second

// Deployment is the two regions, their /health servers and the config.
type Deployment struct {
	Cluster *regiontest.Cluster
	Path    string      // the config file, in the test's temporary directory
	File    config.File // as config.Load reads it
	Health  map[xregion.Region]*httptest.Server
	opened  map[xregion.Region]*config.Opened
}

// New builds the deployment for t; it is torn down at t's cleanup.
func New(t testing.TB) *Deployment {
	t.Helper()
	c := regiontest.New(t, regiontest.WithRegions("a", "b"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := &Deployment{Cluster: c, Health: map[xregion.Region]*httptest.Server{}, opened: map[xregion.Region]*config.Opened{}}
	contact := time.Now().Add(-time.Second)
	var yaml strings.Builder
	yaml.WriteString("regions:\n")
	for _, r := range c.Regions() {
		store, err := pgstore.New(ctx, r.Pool, r.Name)
		if err != nil {
			t.Fatalf("statustest: open %s: %v", r.Name, err)
		}
		peer := xregion.Region("b")
		if r.Name == "b" {
			peer = "a"
		}
		lag := xregion.LagFunc(func(context.Context) ([]xregion.PeerLag, error) {
			return []xregion.PeerLag{{Peer: peer, LastContact: contact, State: xregion.LinkShipping}}, nil
		})
		h, err := health.New(r.Name,
			health.WithCheck("database", true, 5*time.Second, health.StoreCheck(store, r.Name)),
			health.WithLag(replicate.Tier1.Name, replicate.Tier1.RPO, lag),
			health.WithCacheFor(0))
		if err != nil {
			t.Fatalf("statustest: health handler of %s: %v", r.Name, err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		d.Health[r.Name] = srv
		fmt.Fprintf(&yaml, "  - name: %s\n    dsn: %s\n    health: %s/health\n", r.Name, DSN(r), srv.URL)
	}
	fmt.Fprintf(&yaml, "tables:\n  - {name: payments, strategy: lww, tier: 1}\n  - {name: accounts, strategy: single-writer, tier: 2}\npartitions: %d\n", Partitions)
	d.Path = filepath.Join(t.TempDir(), "xregion.yaml")
	if err := os.WriteFile(d.Path, []byte(yaml.String()), 0o600); err != nil {
		t.Fatalf("statustest: %v", err)
	}
	var err error
	if d.File, err = config.Load(d.Path); err != nil {
		t.Fatalf("statustest: %v", err)
	}

	a, b := d.open(t, "a"), d.open(t, "b")
	if _, err := a.Router.Bootstrap(ctx, func(p int) xregion.Region {
		return [...]xregion.Region{"a", "b"}[p%2]
	}); err != nil {
		t.Fatalf("statustest: bootstrap the ownership map: %v", err)
	}
	// Ship until nothing is pending: a transaction open anywhere on the
	// server can hold changes back from one Ship.
	for {
		if _, err := replicate.Ship(ctx, a.Store, b.Store); err != nil {
			t.Fatalf("statustest: ship a to b: %v", err)
		}
		wm, err := b.Store.Watermark(ctx, "a")
		if err != nil {
			t.Fatalf("statustest: %v", err)
		}
		bl, err := a.Store.Backlog(ctx, wm, "a")
		if err != nil {
			t.Fatalf("statustest: %v", err)
		}
		if bl.Changes == 0 {
			break
		}
	}
	return d
}

// DSN is region r's connection string through its proxy, so that the
// proxy's faults land on whoever connects with it.
func DSN(r *regiontest.Region) string {
	u, err := url.Parse(regiontest.DSN())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "postgres://postgres@" + r.Proxy.Addr() + "/" + r.DBName
	}
	u.Host, u.Path, u.RawPath = r.Proxy.Addr(), "/"+r.DBName, ""
	return u.String()
}

func (d *Deployment) open(t testing.TB, name xregion.Region) *config.Opened {
	t.Helper()
	if o := d.opened[name]; o != nil {
		return o
	}
	cr, err := d.File.Region(name)
	if err != nil {
		t.Fatalf("statustest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := d.File.Open(ctx, cr)
	if err != nil {
		t.Fatalf("statustest: open %s: %v", name, err)
	}
	t.Cleanup(o.Close)
	d.opened[name] = o
	return o
}

// Write writes key in region's payments table, as a local write that no
// replicator ships: it stays pending on the links from region.
func (d *Deployment) Write(t testing.TB, region xregion.Region, key string) {
	t.Helper()
	o := d.open(t, region)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := xregion.Record{Key: key, Value: []byte("v"), Version: xregion.Version{Time: o.Clock.Now(), Region: region}}
	if _, err := o.Store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "payments", Record: rec}}}); err != nil {
		t.Fatalf("statustest: write %s in %s: %v", key, region, err)
	}
}

// timeFields and durationFields are the report's fields that change from
// run to run: Normalize replaces their values, when not null, with
// "<time>" and 0.
var (
	timeFields     = map[string]bool{"at": true, "last_contact": true}
	durationFields = map[string]bool{"latency_ms": true, "since_contact_ms": true}
)

// Normalize returns a report's JSON with its times and round trips
// replaced, indented and with its fields in their order, for comparison
// with a golden file. Null stays null, so the golden file pins which
// fields are known. It fails t if a time is not RFC 3339 in UTC or a round
// trip not a number.
func Normalize(t testing.TB, report []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(report))
	dec.UseNumber()
	var out bytes.Buffer
	if err := normalize(t, dec, &out, "", ""); err != nil {
		t.Fatalf("statustest: the report is not JSON: %v\n%s", err, report)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// normalize copies the next value of dec to out, indented, replacing it if
// it is the value of a field named key that changes from run to run.
func normalize(t testing.TB, dec *json.Decoder, out *bytes.Buffer, indent, key string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		end := map[json.Delim]json.Delim{'{': '}', '[': ']'}[tok]
		out.WriteString(tok.String())
		n := 0
		for ; dec.More(); n++ {
			if n > 0 {
				out.WriteByte(',')
			}
			out.WriteString("\n" + indent + "  ")
			field := ""
			if tok == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				field = k.(string)
				scalar(out, field)
				out.WriteString(": ")
			}
			if err := normalize(t, dec, out, indent+"  ", field); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if n > 0 {
			out.WriteString("\n" + indent)
		}
		out.WriteString(end.String())
		return nil
	case nil:
	case string:
		if timeFields[key] {
			if tm, err := time.Parse(time.RFC3339Nano, tok); err != nil || tm.Location() != time.UTC {
				t.Errorf("statustest: %s is %q, not an RFC 3339 time in UTC", key, tok)
			}
			scalar(out, "<time>")
			return nil
		}
	case json.Number:
		if durationFields[key] {
			if _, err := tok.Int64(); err != nil {
				t.Errorf("statustest: %s is %s, not whole milliseconds", key, tok)
			}
			scalar(out, 0)
			return nil
		}
	}
	if timeFields[key] || durationFields[key] {
		if tok != nil {
			t.Errorf("statustest: %s is %v, of the wrong type", key, tok)
		}
	}
	scalar(out, tok)
	return nil
}

func scalar(out *bytes.Buffer, v any) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	out.Truncate(out.Len() - 1) // Encode's newline
}
