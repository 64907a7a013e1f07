package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
)

// Strategies a table may name.
const (
	StrategyLWW          = "lww"           // last-write-wins on HLC versions (lww)
	StrategyCRDT         = "crdt"          // merged conflict-free types (crdt)
	StrategySingleWriter = "single-writer" // one home region per partition, fenced by epochs (partition)
)

// Defaults.
const (
	DefaultApprovals  = partition.DefaultApprovals
	DefaultPartitions = 64
	maxFileBytes      = 1 << 20
)

// File is a deployment as the config file describes it.
type File struct {
	Regions []Region `yaml:"regions"`
	Tables  []Table  `yaml:"tables"`
	// Approvals is how many distinct people a manual failover needs,
	// the proposer included (default 2).
	Approvals int `yaml:"approvals"`
	// Partitions is the partition count of the single-writer tables'
	// ownership map (default 64); every region must use the same.
	Partitions int `yaml:"partitions"`
	// Bridges are the Kafka bridges between the regions, whose consumer
	// groups a failover moves to the target cluster.
	Bridges []Bridge `yaml:"bridges"`
}

// Bridge is one Kafka bridge (package bridge) from one region's cluster to
// another's, with the consumer groups that follow the traffic on failover.
type Bridge struct {
	From   xregion.Region `yaml:"from"`
	To     xregion.Region `yaml:"to"`
	Group  string         `yaml:"group"` // the bridge's own consumer group
	Topics []string       `yaml:"topics"`
	// ConsumerGroups are the applications' groups whose committed offsets
	// a failover translates into the target cluster (Bridge.FailoverGroup).
	ConsumerGroups []string `yaml:"consumer_groups"`
}

// Region is one region: where its database is, its Kafka brokers, and the
// URL of its /health endpoint.
type Region struct {
	Name   xregion.Region `yaml:"name"`
	DSN    string         `yaml:"dsn"`
	Kafka  []string       `yaml:"kafka"`
	Health string         `yaml:"health"`
}

// Table is one replicated table: its conflict strategy and its tier (1 to 4).
type Table struct {
	Name     string `yaml:"name"`
	Strategy string `yaml:"strategy"`
	Tier     int    `yaml:"tier"`
}

// TierOf returns the replicate tier the table names.
func (t Table) TierOf() replicate.Tier {
	return [...]replicate.Tier{replicate.Tier1, replicate.Tier2, replicate.Tier3, replicate.Tier4}[t.Tier-1]
}

// Load reads and validates the file at path.
func Load(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := Parse(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return File{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads and validates a config from r, filling in the defaults.
func Parse(r io.Reader) (File, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return File{}, err
	}
	if len(raw) > maxFileBytes {
		return File{}, invalid("file", "larger than %d bytes", maxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return File{}, invalid("file", "empty; it must name at least two regions")
		}
		return File{}, &xregion.InvalidError{What: "file", Reason: err.Error()}
	}
	if f.Approvals == 0 {
		f.Approvals = DefaultApprovals
	}
	if f.Partitions == 0 {
		f.Partitions = DefaultPartitions
	}
	return f, f.Validate()
}

// Validate checks every field and says what is wrong with the first bad one.
func (f File) Validate() error {
	if len(f.Regions) < 2 {
		return invalid("regions", "%d named; a deployment has at least two", len(f.Regions))
	}
	for i, r := range f.Regions {
		what := fmt.Sprintf("region %d", i+1)
		if err := r.Name.Validate(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		what = fmt.Sprintf("region %q", r.Name)
		if slices.ContainsFunc(f.Regions[:i], func(o Region) bool { return o.Name == r.Name }) {
			return invalid(what, "named twice")
		}
		if r.DSN == "" {
			return invalid(what, "no dsn; give its PostgreSQL connection string")
		}
		if _, err := pgxpool.ParseConfig(r.DSN); err != nil {
			// pgx's parse errors can quote the DSN, password and all.
			return invalid(what, "the dsn does not parse as a PostgreSQL connection string")
		}
		if r.Health != "" {
			if u, err := url.Parse(r.Health); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return invalid(what+" health", "%q is not an http(s) URL", r.Health)
			}
		}
		for _, b := range r.Kafka {
			if b == "" {
				return invalid(what+" kafka", "an empty broker address")
			}
		}
	}
	if len(f.Tables) == 0 {
		return invalid("tables", "none named; name the tables the regions replicate")
	}
	for i, t := range f.Tables {
		if err := xregion.ValidateTableName(t.Name); err != nil {
			return fmt.Errorf("table %d: %w", i+1, err)
		}
		what := fmt.Sprintf("table %q", t.Name)
		if slices.ContainsFunc(f.Tables[:i], func(o Table) bool { return o.Name == t.Name }) {
			return invalid(what, "named twice")
		}
		switch t.Strategy {
		case StrategyLWW, StrategyCRDT, StrategySingleWriter:
		default:
			return invalid(what+" strategy", "%q; want %s, %s or %s", t.Strategy, StrategyLWW, StrategyCRDT, StrategySingleWriter)
		}
		if t.Tier < 1 || t.Tier > 4 {
			return invalid(what+" tier", "%d; want 1 to 4", t.Tier)
		}
	}
	for i, b := range f.Bridges {
		what := fmt.Sprintf("bridge %d", i+1)
		for _, end := range []xregion.Region{b.From, b.To} {
			r, err := f.Region(end)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if len(r.Kafka) == 0 {
				return invalid(what, "region %q names no kafka brokers", end)
			}
		}
		if b.From == b.To {
			return invalid(what, "from and to are both %q", b.From)
		}
		if b.Group == "" || len(b.Topics) == 0 {
			return invalid(what, "needs its group and at least one topic")
		}
	}
	if f.Approvals < 1 || f.Approvals > 10 {
		return invalid("approvals", "%d; want 1 to 10 (default %d)", f.Approvals, DefaultApprovals)
	}
	if f.Partitions < 1 || f.Partitions > 1<<16 {
		return invalid("partitions", "%d; want 1 to 65536 (default %d)", f.Partitions, DefaultPartitions)
	}
	return nil
}

// Region returns the region named name.
func (f File) Region(name xregion.Region) (Region, error) {
	i := slices.IndexFunc(f.Regions, func(r Region) bool { return r.Name == name })
	if i < 0 {
		names := make([]string, len(f.Regions))
		for j, r := range f.Regions {
			names[j] = string(r.Name)
		}
		return Region{}, invalid("region", "%q is not in the config; it names %v", name, names)
	}
	return f.Regions[i], nil
}

// Primary returns the preferred region: the first one named.
func (f File) Primary() Region { return f.Regions[0] }

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: "config " + what, Reason: fmt.Sprintf(format, args...)}
}
