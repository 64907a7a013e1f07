package regiontest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xregion/xregion"
)

// Option configures New.
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	regions   []xregion.Region
	kafkaOpts []kfake.Opt
}

// Regions names the cluster's regions, in order. Default: "a" and "b".
// Names must be valid xregion.Region names and distinct.
func Regions(names ...xregion.Region) Option {
	return option(func(c *config) { c.regions = append([]xregion.Region(nil), names...) })
}

// KafkaOptions adds options for every region's kfake cluster, after the
// defaults (one broker, topics created on first use with one partition, as a
// stock Kafka broker does), so they can override them. Default: none.
func KafkaOptions(opts ...kfake.Opt) Option {
	return option(func(c *config) { c.kafkaOpts = append(c.kafkaOpts, opts...) })
}

func (c *config) validate() error {
	if len(c.regions) == 0 {
		return fmt.Errorf("no regions; name at least one with Regions, or leave the default (a, b)")
	}
	seen := make(map[xregion.Region]bool, len(c.regions))
	for _, r := range c.regions {
		if err := r.Validate(); err != nil {
			return err
		}
		if seen[r] {
			return fmt.Errorf("region %q named twice; each region needs its own name", r)
		}
		seen[r] = true
	}
	return nil
}

// Cluster is a set of regions for one test, each with its own database,
// fault proxy, clocks and (on demand) Kafka cluster. Everything is torn down
// at the test's cleanup. A Cluster is safe for concurrent use; its methods
// that fail the test must be called from the test's goroutine.
type Cluster struct {
	t       testing.TB
	regions []*Region
}

// New creates the regions of a cluster for t: for each, a fresh database
// (see Database), a Proxy in front of it, a pool that connects through the
// proxy and one that bypasses it, a SkewClock and an HLC reading it. It skips
// or fails the test as Database does when PostgreSQL cannot be reached, and
// fails it for invalid options.
func New(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	cfg := config{regions: []xregion.Region{"a", "b"}}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("regiontest: new cluster: %v", err)
	}
	s := serverFromEnv()
	c := &Cluster{t: t}
	for _, name := range cfg.regions {
		c.regions = append(c.regions, s.newRegion(t, name, cfg.kafkaOpts))
	}
	return c
}

// Region returns the region named name, failing the test if there is none.
func (c *Cluster) Region(name xregion.Region) *Region {
	c.t.Helper()
	for _, r := range c.regions {
		if r.Name == name {
			return r
		}
	}
	c.t.Fatalf("regiontest: no region %q in this cluster; it has %v", name, c.names())
	return nil
}

// Regions returns the regions in the order they were named.
func (c *Cluster) Regions() []*Region { return append([]*Region(nil), c.regions...) }

func (c *Cluster) names() []xregion.Region {
	names := make([]xregion.Region, len(c.regions))
	for i, r := range c.regions {
		names[i] = r.Name
	}
	return names
}

// Region is one region of a Cluster. Code under test gets Pool (and the
// region's Kafka brokers); the test injects faults through Proxy and Wall, and
// checks what reached the database through Direct. The fields are set by New
// and must not be changed. A Region is safe for concurrent use.
type Region struct {
	Name   xregion.Region
	DBName string         // the region's database, created for this test
	Pool   *pgxpool.Pool  // connects through Proxy: what the code under test uses
	Direct *pgxpool.Pool  // bypasses Proxy: for setup and for assertions after a fault
	Proxy  *Proxy         // the network between the code under test and the database
	Wall   *SkewClock     // the region's wall clock; skew it with SetOffset
	Clock  *xregion.Clock // HLC reading Wall, with the default maximum offset

	t         testing.TB
	kafkaOpts []kfake.Opt
	kafka     struct {
		sync.Mutex
		cluster *kfake.Cluster
		link    *KafkaLink
	}
}

// newRegion builds one region. At cleanup the proxy closes before the pool
// behind it, so a connection attempt held by a blackhole fails at once
// instead of waiting out ConnectTimeout; the direct pool closes next and the
// database is dropped last.
func (s server) newRegion(t testing.TB, name xregion.Region, kafkaOpts []kfake.Opt) *Region {
	t.Helper()
	db := s.createDatabase(t)
	direct := openPool(t, s.poolConfig(t, db))

	cfg := s.poolConfig(t, db)
	_, upstream := pgconn.NetworkAddress(cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	proxy, err := NewProxy(upstream)
	if err != nil {
		t.Fatalf("regiontest: region %s: %v", name, err)
	}
	host, portStr, _ := net.SplitHostPort(proxy.Addr())
	port, _ := strconv.ParseUint(portStr, 10, 16)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(port)
	// Fallbacks (the plain-text retry of sslmode=prefer, other hosts) would
	// bypass the proxy; point them at it too.
	for _, fb := range cfg.ConnConfig.Fallbacks {
		fb.Host, fb.Port = host, uint16(port)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		proxy.Close()
		t.Fatalf("regiontest: region %s: open pool: %v", name, err)
	}
	t.Cleanup(func() {
		if err := proxy.Close(); err != nil {
			t.Errorf("regiontest: region %s: %v", name, err)
		}
		pool.Close()
	})

	wall := &SkewClock{}
	clock, err := xregion.NewClock(wall)
	if err != nil {
		t.Fatalf("regiontest: region %s: %v", name, err)
	}
	return &Region{
		Name:      name,
		DBName:    db,
		Pool:      pool,
		Direct:    direct,
		Proxy:     proxy,
		Wall:      wall,
		Clock:     clock,
		t:         t,
		kafkaOpts: kafkaOpts,
	}
}

// Kafka returns the region's in-process Kafka cluster (kfake, on real TCP
// ports of 127.0.0.1), starting it on the first call and closing it at the
// test's cleanup. Regions that never call it run no broker. Defaults: one
// broker, topics created on first use with one partition; see KafkaOptions.
// Kafka traffic does not pass through the region's Proxy.
func (r *Region) Kafka() *kfake.Cluster {
	r.t.Helper()
	r.kafka.Lock()
	defer r.kafka.Unlock()
	if r.kafka.cluster == nil {
		if r.kafka.link == nil {
			r.kafka.link = newKafkaLink()
		}
		opts := append([]kfake.Opt{
			kfake.ListenFn(r.kafka.link.listen),
			kfake.NumBrokers(1),
			kfake.AllowAutoTopicCreation(),
			kfake.DefaultNumPartitions(1),
			kfake.ClusterID("xregion-" + string(r.Name)),
		}, r.kafkaOpts...)
		kc, err := kfake.NewCluster(opts...)
		if err != nil {
			r.t.Fatalf("regiontest: region %s: start kafka: %v", r.Name, err)
		}
		r.t.Cleanup(kc.Close)
		r.kafka.cluster = kc
	}
	return r.kafka.cluster
}

// KafkaLink returns the network between clients and the region's Kafka
// brokers, for injecting faults: Blackhole, Heal and Reset, as on the
// database's Proxy. It exists before the cluster starts, and faults set
// early apply to the cluster when it does. A ListenFn given through
// KafkaOptions replaces the link's listener: faults then do nothing.
func (r *Region) KafkaLink() *KafkaLink {
	r.kafka.Lock()
	defer r.kafka.Unlock()
	if r.kafka.link == nil {
		r.kafka.link = newKafkaLink()
	}
	return r.kafka.link
}

// KafkaBrokers returns the addresses of the region's Kafka brokers, starting
// the cluster if needed (see Kafka).
func (r *Region) KafkaBrokers() []string {
	r.t.Helper()
	return r.Kafka().ListenAddrs()
}
