package regiontest_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/regiontest"
)

func TestRegion_KafkaLink(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.Regions("a")).Region("a")
	client := &kafka.Client{Addr: kafka.TCP(a.KafkaBrokers()...), Transport: &kafka.Transport{}}
	metadata := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		return err
	}
	require.NoError(t, metadata(10*time.Second), "the link starts healthy")
	require.Same(t, a.KafkaLink(), a.KafkaLink())

	a.KafkaLink().Blackhole()
	conn, err := kafka.DialContext(context.Background(), "tcp", a.KafkaBrokers()[0])
	if err == nil { // a new connection hears nothing either
		conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
		_, err = conn.ReadPartitions("orders")
		conn.Close()
	}
	require.Error(t, err, "a new connection's request hangs until its deadline")

	const deadline = 300 * time.Millisecond
	start := time.Now()
	w := &kafka.Writer{Addr: kafka.TCP(a.KafkaBrokers()...), Topic: "orders", AllowAutoTopicCreation: true,
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, MaxAttempts: 1, WriteTimeout: deadline}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	err = w.WriteMessages(ctx, kafka.Message{Value: []byte("held")})
	cancel()
	require.Error(t, err, "a write during the partition fails by its deadline")
	require.GreaterOrEqual(t, time.Since(start), deadline)

	a.KafkaLink().Heal()
	require.NoError(t, metadata(10*time.Second), "requests succeed after Heal")

	a.KafkaLink().Reset()
	require.NoError(t, metadata(10*time.Second), "clients reconnect after Reset")
}

// What a client sent during a Blackhole reaches the broker on Heal, as TCP
// would retransmit it: a produce that timed out at the client is carried
// out all the same. The bridge's outage tests depend on this.
func TestKafkaLink_HealDeliversHeld(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.Regions("a")).Region("a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func() *kafka.Conn {
		conn, err := kafka.DialLeader(ctx, "tcp", a.KafkaBrokers()[0], "held", 0)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		conn.SetRequiredAcks(int(kafka.RequireAll))
		return conn
	}
	write := func(conn *kafka.Conn, v string) error {
		conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := conn.WriteMessages(kafka.Message{Value: []byte(v)})
		return err
	}
	// The first write settles the connection's protocol versions, so the
	// second is a produce request on the wire.
	conn := dial()
	require.NoError(t, write(conn, "before"))

	a.KafkaLink().Blackhole()
	require.Error(t, write(conn, "held"), "the produce times out at the client")
	conn.Close()

	a.KafkaLink().Heal()
	check := dial()
	require.Eventually(t, func() bool {
		check.SetDeadline(time.Now().Add(5 * time.Second))
		end, err := check.ReadLastOffset()
		return err == nil && end == 2
	}, 10*time.Second, 20*time.Millisecond, "the held produce is carried out on Heal")
}
