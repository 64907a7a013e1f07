// Command bridge runs a Kafka bridge from one region's cluster to another's
// while a producer writes to the first, printing the bridge's lag as it
// goes: the messages the target still lacks and the live RPO, the age of the
// oldest of them. By default both clusters run in this process (kfake, on
// real TCP ports); give -from and -to to bridge real clusters.
//
//	go run ./examples/bridge
//	go run ./examples/bridge -n 100000 -partitions 8
//	go run ./examples/bridge -from east-1:9092,east-2:9092 -to west-1:9092 -topic orders
//
// The topic is created in the source if it is missing; the bridge creates
// it in the target with the same partition count.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
)

type config struct {
	from, to   []string
	topic      string
	group      string
	n          int
	partitions int
	every      time.Duration // how often the lag is printed
}

func main() {
	var (
		cfg      config
		from, to string
	)
	flag.StringVar(&from, "from", "", "source brokers, comma-separated; default: an in-process cluster")
	flag.StringVar(&to, "to", "", "target brokers, comma-separated; default: an in-process cluster")
	flag.StringVar(&cfg.topic, "topic", "orders", "topic to bridge")
	flag.StringVar(&cfg.group, "group", "xregion-example-bridge", "the bridge's consumer group in the source")
	flag.IntVar(&cfg.n, "n", 200_000, "messages to produce")
	flag.IntVar(&cfg.partitions, "partitions", 4, "partitions of the topic, when it is created")
	flag.DurationVar(&cfg.every, "every", 100*time.Millisecond, "how often to print the lag")
	flag.Parse()
	if (from == "") != (to == "") {
		log.Fatal("give both -from and -to, or neither")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if from == "" {
		var closeAll func()
		var err error
		cfg.from, cfg.to, closeAll, err = inProcess()
		if err != nil {
			log.Fatal(err)
		}
		defer closeAll()
	} else {
		cfg.from, cfg.to = strings.Split(from, ","), strings.Split(to, ",")
	}
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// inProcess starts two Kafka clusters in this process, named for the regions
// they stand for.
func inProcess() (from, to []string, closeAll func(), err error) {
	east, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("us-east-1"))
	if err != nil {
		return nil, nil, nil, err
	}
	west, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("us-west-2"))
	if err != nil {
		east.Close()
		return nil, nil, nil, err
	}
	return east.ListenAddrs(), west.ListenAddrs(), func() { west.Close(); east.Close() }, nil
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := ensureTopic(ctx, cfg.from, cfg.topic, cfg.partitions); err != nil {
		return err
	}
	m := bridge.NewMetrics() // register it with your Prometheus registry
	b, err := bridge.New(cfg.from, cfg.to, cfg.group, []string{cfg.topic},
		bridge.WithMetrics(m), bridge.WithLagInterval(cfg.every))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bridged := make(chan error, 1)
	go func() { bridged <- b.Run(ctx) }()
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, cfg.from, cfg.topic, cfg.n) }()

	fmt.Fprintf(out, "bridging %q: producing %d messages into the source\n", cfg.topic, cfg.n)
	tick := time.NewTicker(cfg.every)
	defer tick.Stop()
	producing, sawPending := true, false
	for {
		select {
		case err := <-bridged:
			return fmt.Errorf("bridge stopped: %w", err)
		case err := <-produced:
			if err != nil {
				return err
			}
			producing = false
			fmt.Fprintln(out, "producer done")
			continue
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		l := b.Lag()
		printLag(out, l)
		sawPending = sawPending || l.Pending > 0
		if !producing && len(l.Partitions) > 0 && l.Pending == 0 && l.State == xregion.LinkShipping {
			fmt.Fprintf(out, "caught up: the target holds every message of %s\n", l.From)
			cancel()
			if err := <-bridged; !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}
	}
}

func printLag(out io.Writer, l bridge.Lag) {
	var parts []string
	for _, p := range l.Partitions {
		parts = append(parts, fmt.Sprintf("%d:%d/%d", p.Partition, p.Next, p.End))
	}
	contact := "never"
	if !l.LastContact.IsZero() {
		contact = time.Since(l.LastContact).Round(time.Millisecond).String() + " ago"
	}
	fmt.Fprintf(out, "%s → %s  %-8s pending %6d  rpo %8s  target answered %s  partitions (next/end) %s\n",
		l.From, l.To, l.State, l.Pending, l.RPO.Round(time.Millisecond), contact, strings.Join(parts, " "))
}

// produce writes n messages of 256 bytes, keyed by order, in batches.
func produce(ctx context.Context, brokers []string, topic string, n int) error {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	value := []byte(strings.Repeat("x", 256))
	batch := make([]kafka.Message, 0, 4000)
	for i := 0; i < n; i++ {
		batch = append(batch, kafka.Message{Key: []byte(fmt.Sprintf("order-%d", i%1000)), Value: value})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return fmt.Errorf("produce: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

func ensureTopic(ctx context.Context, brokers []string, topic string, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1}}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
