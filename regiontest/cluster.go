package regiontest

import (
	"context"
	"errors"
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
	maxConns  int32
}

// WithRegions names the cluster's regions, in order. Default: "a" and "b".
// Names must be valid xregion.Region names and distinct.
func WithRegions(names ...xregion.Region) Option {
	return option(func(c *config) { c.regions = append([]xregion.Region(nil), names...) })
}

// WithKafkaOptions adds options for every region's kfake cluster, after the
// defaults (one broker, topics created on first use with one partition, as a
// stock Kafka broker does), so they can override them. Default: none.
func WithKafkaOptions(opts ...kfake.Opt) Option {
	return option(func(c *config) { c.kafkaOpts = append(c.kafkaOpts, opts...) })
}

// WithPoolSize sets how many connections each of a region's two pools holds.
// Default MaxConns, small because the tests of many packages share one
// server; a benchmark wants one per writer.
func WithPoolSize(n int32) Option { return option(func(c *config) { c.maxConns = n }) }

func newClusterConfig(opts []Option) (config, error) {
	c := config{regions: []xregion.Region{"a", "b"}, maxConns: MaxConns}
	for _, o := range opts {
		o.apply(&c)
	}
	return c, c.validate()
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
	if c.maxConns < 1 {
		return fmt.Errorf("pool size %d; want at least 1", c.maxConns)
	}
	return nil
}

// Cluster is a set of regions, each with its own database, fault proxy,
// clocks and (on demand) Kafka cluster. New makes one for a test and tears it
// down at the test's cleanup; Open makes one for a program, which calls
// Close. A Cluster is safe for concurrent use; the methods of New's that
// fail the test must be called from the test's goroutine.
type Cluster struct {
	t       testing.TB // nil for Open's
	regions []*Region
}

// New creates the regions of a cluster for t: for each, a fresh database
// (see Database), a Proxy in front of it, a pool that connects through the
// proxy and one that bypasses it, a SkewClock and an HLC reading it. It skips
// or fails the test as Database does when PostgreSQL cannot be reached, and
// fails it for invalid options. The cluster is closed at the test's cleanup.
func New(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	cfg, err := newClusterConfig(opts)
	if err != nil {
		t.Fatalf("regiontest: new cluster: %v", err)
	}
	s := serverFromEnv()
	c, err := s.open(context.Background(), cfg)
	if err != nil {
		s.failed(t, err)
	}
	c.t = t
	for _, r := range c.regions {
		r.t = t
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("regiontest: %v", err)
		}
	})
	return c
}

// Open creates the regions of a cluster, as New does, on the PostgreSQL
// server dsn names (a database to connect to for administration, whose user
// may create databases), for a program: an example, a benchmark, a drill.
// Close releases everything, dropping the databases.
func Open(ctx context.Context, dsn string, opts ...Option) (*Cluster, error) {
	cfg, err := newClusterConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("regiontest: open cluster: %w", err)
	}
	c, err := server{dsn: dsn}.open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("regiontest: %w", err)
	}
	return c, nil
}

// open creates the cluster's regions, closing what it made if one fails.
func (s server) open(ctx context.Context, cfg config) (*Cluster, error) {
	c := &Cluster{}
	for _, name := range cfg.regions {
		r, err := s.newRegion(ctx, name, cfg)
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		c.regions = append(c.regions, r)
	}
	return c, nil
}

// Close releases the cluster: first the Kafka clusters, then each region,
// the last named first (its proxy, closing every connection through it,
// the proxied pool, the direct pool, and its database, dropped WITH (FORCE)
// so sessions left behind do not keep it alive). It returns what failed.
func (c *Cluster) Close() error {
	var errs []error
	for _, r := range c.regions {
		r.closeKafka()
	}
	for i := len(c.regions) - 1; i >= 0; i-- {
		errs = append(errs, c.regions[i].close())
	}
	return errors.Join(errs...)
}

// Region returns the region named name. For a test's Cluster it fails the
// test if there is none; for a program's it returns nil.
func (c *Cluster) Region(name xregion.Region) *Region {
	for _, r := range c.regions {
		if r.Name == name {
			return r
		}
	}
	if c.t != nil {
		c.t.Helper()
		c.t.Fatalf("regiontest: no region %q in this cluster; it has %v", name, c.names())
	}
	return nil
}

// WithRegions returns the regions in the order they were named.
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
// or Open and must not be changed. A Region is safe for concurrent use.
type Region struct {
	Name   xregion.Region
	DBName string         // the region's database, created for this cluster
	Pool   *pgxpool.Pool  // connects through Proxy: what the code under test uses
	Direct *pgxpool.Pool  // bypasses Proxy: for setup and for assertions after a fault
	Proxy  *Proxy         // the network between the code under test and the database
	Wall   *SkewClock     // the region's wall clock; skew it with SetOffset
	Clock  *xregion.Clock // HLC reading Wall, with the default maximum offset

	t         testing.TB // nil for Open's
	server    server
	kafkaOpts []kfake.Opt
	kafka     struct {
		sync.Mutex
		cluster *kfake.Cluster
		link    *KafkaLink
	}
}

// newRegion builds one region: its database, the direct pool, the proxy and
// the pool through it. What it made is released if a later step fails.
func (s server) newRegion(ctx context.Context, name xregion.Region, cfg config) (_ *Region, err error) {
	db, err := s.createDatabase(ctx)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	r := &Region{Name: name, DBName: db, server: s, kafkaOpts: cfg.kafkaOpts}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.close())
		}
	}()
	direct, err := s.poolConfig(db, cfg.maxConns)
	if err == nil {
		r.Direct, err = pgxpool.NewWithConfig(ctx, direct)
	}
	if err != nil {
		return nil, fmt.Errorf("region %s: open pool: %w", name, err)
	}

	pcfg, err := s.poolConfig(db, cfg.maxConns)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	_, upstream := pgconn.NetworkAddress(pcfg.ConnConfig.Host, pcfg.ConnConfig.Port)
	if r.Proxy, err = NewProxy(upstream); err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	host, portStr, _ := net.SplitHostPort(r.Proxy.Addr())
	port, _ := strconv.ParseUint(portStr, 10, 16)
	pcfg.ConnConfig.Host, pcfg.ConnConfig.Port = host, uint16(port)
	// Fallbacks (the plain-text retry of sslmode=prefer, other hosts) would
	// bypass the proxy; point them at it too.
	for _, fb := range pcfg.ConnConfig.Fallbacks {
		fb.Host, fb.Port = host, uint16(port)
	}
	if r.Pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("region %s: open pool: %w", name, err)
	}

	r.Wall = &SkewClock{}
	if r.Clock, err = xregion.NewClock(r.Wall); err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	return r, nil
}

// close releases the region's own resources: the proxy before the pool
// behind it, so that a connection attempt held by a blackhole fails at once
// instead of waiting out ConnectTimeout, then the direct pool, and the
// database last.
func (r *Region) close() error {
	var errs []error
	if r.Proxy != nil {
		if err := r.Proxy.Close(); err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", r.Name, err))
		}
	}
	if r.Pool != nil {
		r.Pool.Close()
	}
	if r.Direct != nil {
		r.Direct.Close()
	}
	if err := r.server.dropDatabase(r.DBName); err != nil {
		errs = append(errs, fmt.Errorf("region %s: %w", r.Name, err))
	}
	return errors.Join(errs...)
}

func (r *Region) closeKafka() {
	r.kafka.Lock()
	defer r.kafka.Unlock()
	if r.kafka.cluster != nil {
		r.kafka.cluster.Close()
		r.kafka.cluster = nil
	}
}

// Kafka returns the region's in-process Kafka cluster (kfake, on real TCP
// ports of 127.0.0.1), starting it on the first call; Close closes it.
// WithRegions that never call it run no broker. Defaults: one broker, topics
// created on first use with one partition; see WithKafkaOptions. Kafka traffic
// does not pass through the region's Proxy. A test's region fails the test
// if the cluster cannot start; a program calls StartKafka to get the error.
func (r *Region) Kafka() *kfake.Cluster {
	kc, err := r.StartKafka()
	if err != nil {
		if r.t == nil {
			panic(err)
		}
		r.t.Helper()
		r.t.Fatal(err)
	}
	return kc
}

// StartKafka is Kafka for programs: it returns the error instead of failing
// a test.
func (r *Region) StartKafka() (*kfake.Cluster, error) {
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
			return nil, fmt.Errorf("regiontest: region %s: start kafka: %w", r.Name, err)
		}
		r.kafka.cluster = kc
	}
	return r.kafka.cluster, nil
}

// KafkaLink returns the network between clients and the region's Kafka
// brokers, for injecting faults: Blackhole, Heal and Reset, as on the
// database's Proxy. It exists before the cluster starts, and faults set
// early apply to the cluster when it does. A ListenFn given through
// WithKafkaOptions replaces the link's listener: faults then do nothing.
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
	if r.t != nil {
		r.t.Helper()
	}
	return r.Kafka().ListenAddrs()
}
