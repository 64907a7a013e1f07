package bridge_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xregion/xregion/bridge"
)

// cluster starts an in-process Kafka cluster standing for a region's; in
// production the bridge is given the brokers of real clusters.
func cluster(id string, topics ...string) *kfake.Cluster {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID(id), kfake.SeedTopics(1, topics...))
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func write(ctx context.Context, brokers []string, topic string, kv ...string) {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond}
	defer w.Close()
	for i := 0; i < len(kv); i += 2 {
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(kv[i]), Value: []byte(kv[i+1])}); err != nil {
			log.Fatal(err)
		}
	}
}

// Bridge a topic from us-east to us-west and read the copies there, with
// their provenance.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	east, west := cluster("us-east", "orders"), cluster("us-west")
	defer east.Close()
	defer west.Close()
	write(ctx, east.ListenAddrs(), "orders", "order-1", "created", "order-1", "paid", "order-2", "created")

	b, err := bridge.New(east.ListenAddrs(), west.ListenAddrs(), "orders-to-west", []string{"orders"})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: west.ListenAddrs(), Topic: "orders", MaxWait: 50 * time.Millisecond})
	defer r.Close()
	for i := 0; i < 3; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		p, _, err := bridge.ParseProvenance(m.Headers)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: read from %s/%s/%d offset %d, hops %s\n", m.Key, m.Value, p.Cluster, p.Topic,
			p.Partition, p.Offset, strings.Join(p.Hops, " → "))
	}
	stop()
	<-done
	// Output:
	// order-1 created: read from us-east/orders/0 offset 0, hops us-east → us-west
	// order-1 paid: read from us-east/orders/0 offset 1, hops us-east → us-west
	// order-2 created: read from us-east/orders/0 offset 2, hops us-east → us-west
}

// A consumer group fails over from us-east to us-west: its committed offset
// is translated through the provenance of the copies, so it resumes exactly
// after the last message it read, although us-west's offsets differ (it had
// messages of its own).
func ExampleBridge_FailoverGroup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	east, west := cluster("us-east", "orders"), cluster("us-west", "orders")
	defer east.Close()
	defer west.Close()
	write(ctx, west.ListenAddrs(), "orders", "audit", "west-local-1", "audit", "west-local-2")
	write(ctx, east.ListenAddrs(), "orders", "o1", "created", "o1", "paid", "o2", "created", "o2", "shipped")

	// In us-east, the billing service reads two orders and commits.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: east.ListenAddrs(), GroupID: "billing", Topic: "orders",
		MaxWait: 50 * time.Millisecond})
	for i := 0; i < 2; i++ {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("billing in us-east: %s %s\n", m.Key, m.Value)
		if err := r.CommitMessages(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	r.Close()

	// The bridge copies the topic to us-west.
	b, err := bridge.New(east.ListenAddrs(), west.ListenAddrs(), "orders-to-west", []string{"orders"},
		bridge.WithLagInterval(20*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	for l := b.Lag(); len(l.Partitions) == 0 || l.Pending > 0 || l.Partitions[0].Next < 4; l = b.Lag() {
		time.Sleep(10 * time.Millisecond) // the bridge copies over real connections
	}
	stop()
	<-done

	// us-east is lost: move billing to us-west.
	offsets, err := b.FailoverGroup(ctx, "billing", "orders")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("billing resumes in us-west at offset %d\n", offsets[0])
	r = kafka.NewReader(kafka.ReaderConfig{Brokers: west.ListenAddrs(), GroupID: "billing", Topic: "orders",
		MaxWait: 50 * time.Millisecond})
	defer r.Close()
	for i := 0; i < 2; i++ {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("billing in us-west: %s %s\n", m.Key, m.Value)
	}
	// Output:
	// billing in us-east: o1 created
	// billing in us-east: o1 paid
	// billing resumes in us-west at offset 4
	// billing in us-west: o2 created
	// billing in us-west: o2 shipped
}
