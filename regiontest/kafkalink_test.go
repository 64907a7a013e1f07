package regiontest_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xregion/xregion/regiontest"
)

func TestRegion_KafkaLink(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
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
	a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
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

// Watch sees each request as the broker reads it and the answer it gives,
// paired and in order: the request before the broker acts on it, the
// response after.
func TestKafkaLink_Watch(t *testing.T) {
	t.Parallel()
	a := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var events []regiontest.KafkaEvent
	stop := a.KafkaLink().Watch(func(e regiontest.KafkaEvent) {
		if e.Request.Key() == int16(kmsg.Produce) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	w := &kafka.Writer{Addr: kafka.TCP(a.KafkaBrokers()...), Topic: "watched", AllowAutoTopicCreation: true,
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	require.Eventually(t, func() bool { return w.WriteMessages(ctx, kafka.Message{Value: []byte("one")}) == nil },
		10*time.Second, 20*time.Millisecond)
	stop()
	require.NoError(t, w.WriteMessages(ctx, kafka.Message{Value: []byte("unwatched")}))

	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(events), 2)
	last := len(events) - 1
	req, resp := events[last-1], events[last]
	require.Nil(t, req.Response, "the request's arrival comes first")
	require.Same(t, req.Request, resp.Request, "the answer names its request")
	pr := resp.Response.(*kmsg.ProduceResponse)
	require.Equal(t, "watched", pr.Topics[0].Topic)
	require.Zero(t, pr.Topics[0].Partitions[0].ErrorCode, "the broker's answer: written")
	recs, n := produced(t, req.Request.(*kmsg.ProduceRequest))
	require.EqualValues(t, 1, n)
	require.True(t, bytes.Contains(recs, []byte("one")), "the request as the client sent it")
}

// produced returns the records of a produce request's one batch, still
// encoded, and how many there are.
func produced(t *testing.T, r *kmsg.ProduceRequest) ([]byte, int32) {
	t.Helper()
	var b kmsg.RecordBatch
	require.NoError(t, b.ReadFrom(r.Topics[0].Partitions[0].Records))
	return b.Records, b.NumRecords
}
