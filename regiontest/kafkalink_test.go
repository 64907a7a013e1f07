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
