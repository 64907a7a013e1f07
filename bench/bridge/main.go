// Command bridge measures the Kafka bridge against the simplest thing that
// could replace it: a raw kafka-go consume→produce pipe (a consumer group,
// batches, a commit after each acknowledged batch, and no ordering, dedupe
// or provenance). Both run in the same process, one after the other, on two
// in-process kfake clusters, over the same messages.
//
//	go run ./bench/bridge                # 200,000 messages of 256 bytes over 4 partitions
//	go run ./bench/bridge -json          # the figures as JSON
//	go run ./bench/bridge -rounds 3      # best of three rounds of each
//
// The bridge must reach at least 80% of the pipe's messages per second.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xregion/xregion/bridge"
)

type result struct {
	Messages           int     `json:"messages"`
	Bytes              int64   `json:"bytes"`
	Partitions         int     `json:"partitions"`
	PipeMsgsPerS       float64 `json:"pipe_msgs_per_s"`
	BridgeMsgsPerS     float64 `json:"bridge_msgs_per_s"`
	Ratio              float64 `json:"ratio"`
	pipeMBPerS         float64
	bridgeMBPerS       float64
	pipe, bridgeDur    time.Duration
	pipeCPU, bridgeCPU time.Duration // CPU time of the whole process (both clusters included)
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	var (
		n          = flag.Int("n", 200_000, "messages")
		size       = flag.Int("size", 256, "value bytes per message")
		partitions = flag.Int("partitions", 4, "partitions of the topic")
		batch      = flag.Int("batch", 1000, "messages per batch of the raw pipe")
		rounds     = flag.Int("rounds", 1, "rounds of each; the best of each is kept")
		asJSON     = flag.Bool("json", false, "print JSON instead of a table")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the bridge's runs to this file")
		memProfile = flag.String("memprofile", "", "write an allocation profile to this file at the end")
	)
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("bench-src"))
	check(err)
	defer src.Close()
	from := src.ListenAddrs()

	check(createTopic(ctx, from, "bench", *partitions))
	check(produce(ctx, from, "bench", *n, *size))

	res := result{Messages: *n, Bytes: int64(*n) * int64(*size), Partitions: *partitions}
	for r := 0; r < *rounds; r++ {
		c0 := cpuTime()
		d, err := pipe(ctx, from, fmt.Sprintf("pipe-%d", r), *n, *partitions, *batch)
		check(err)
		if res.pipe == 0 || d < res.pipe {
			res.pipe, res.pipeCPU = d, cpuTime()-c0
		}

		if *cpuProfile != "" {
			f, err := os.Create(fmt.Sprintf("%s.%d", *cpuProfile, r))
			check(err)
			check(pprof.StartCPUProfile(f))
		}
		c0 = cpuTime()
		d, err = runBridge(ctx, from, fmt.Sprintf("bridge-%d", r), *n, *partitions)
		if *cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		check(err)
		if res.bridgeDur == 0 || d < res.bridgeDur {
			res.bridgeDur, res.bridgeCPU = d, cpuTime()-c0
		}
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		check(err)
		check(pprof.Lookup("allocs").WriteTo(f, 0))
		f.Close()
	}
	mb := float64(res.Bytes) / 1e6
	res.PipeMsgsPerS = float64(*n) / res.pipe.Seconds()
	res.BridgeMsgsPerS = float64(*n) / res.bridgeDur.Seconds()
	res.pipeMBPerS, res.bridgeMBPerS = mb/res.pipe.Seconds(), mb/res.bridgeDur.Seconds()
	res.Ratio = res.BridgeMsgsPerS / res.PipeMsgsPerS

	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		check(enc.Encode(res))
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%d messages of %d bytes over %d partitions\t\n", *n, *size, *partitions)
	fmt.Fprintln(w, "what\ttime\tCPU time\tmessages/s\tMB/s\t")
	fmt.Fprintf(w, "raw kafka-go pipe\t%s\t%s\t%.0f\t%.1f\t\n", res.pipe.Round(time.Millisecond),
		res.pipeCPU.Round(time.Millisecond), res.PipeMsgsPerS, res.pipeMBPerS)
	fmt.Fprintf(w, "bridge\t%s\t%s\t%.0f\t%.1f\t\n", res.bridgeDur.Round(time.Millisecond),
		res.bridgeCPU.Round(time.Millisecond), res.BridgeMsgsPerS, res.bridgeMBPerS)
	fmt.Fprintf(w, "bridge / pipe\t\t%.2f\t\t\n", res.Ratio)
	w.Flush()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func createTopic(ctx context.Context, brokers []string, topic string, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

// produce writes n messages of size bytes, spread evenly over the
// partitions. It is not measured.
func produce(ctx context.Context, brokers []string, topic string, n, size int) error {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll, BatchSize: 2000, BatchBytes: 4 << 20, BatchTimeout: time.Millisecond}
	defer w.Close()
	value := make([]byte, size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	msgs := make([]kafka.Message, 0, 10_000)
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", i%1000)), Value: value})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("produce: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	return nil
}

// pipe is the raw consume→produce loop: read a batch through a consumer
// group, write it, commit it once the target acknowledged it.
func pipe(ctx context.Context, from []string, group string, n, partitions, batch int) (time.Duration, error) {
	to, closeTarget, err := target(ctx, group, partitions)
	if err != nil {
		return 0, err
	}
	defer closeTarget()
	start := time.Now()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: from, GroupID: group, Topic: "bench",
		MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond, CommitInterval: 0, StartOffset: kafka.FirstOffset})
	defer r.Close()
	w := &kafka.Writer{Addr: kafka.TCP(to...), Topic: "bench", RequiredAcks: kafka.RequireAll,
		BatchSize: batch, BatchBytes: 1 << 20, BatchTimeout: time.Millisecond}
	defer w.Close()
	in := make([]kafka.Message, 0, batch)
	out := make([]kafka.Message, 0, batch)
	for done := 0; done < n; {
		in, out = in[:0], out[:0]
		for len(in) < batch && done+len(in) < n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return 0, fmt.Errorf("pipe fetch: %w", err)
			}
			in = append(in, m)
			out = append(out, kafka.Message{Key: m.Key, Value: m.Value, Headers: m.Headers, Time: m.Time})
		}
		if err := w.WriteMessages(ctx, out...); err != nil {
			return 0, fmt.Errorf("pipe write: %w", err)
		}
		if err := r.CommitMessages(ctx, in...); err != nil {
			return 0, fmt.Errorf("pipe commit: %w", err)
		}
		done += len(in)
	}
	d := time.Since(start)
	if held, err := count(ctx, to, partitions); err != nil || held != int64(n) {
		return 0, fmt.Errorf("pipe moved %d messages but the target holds %d (%v)", n, held, err)
	}
	return d, nil
}

// count is how many messages the target's "bench" topic holds.
func count(ctx context.Context, brokers []string, partitions int) (int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	req := make([]kafka.OffsetRequest, partitions)
	for i := range req {
		req[i] = kafka.LastOffsetOf(i)
	}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{"bench": req}})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range resp.Topics["bench"] {
		if p.Error != nil {
			return 0, p.Error
		}
		n += p.LastOffset
	}
	return n, nil
}

// runBridge bridges the topic into a fresh target cluster and returns how
// long it took until the target held every message and the source had
// every offset committed.
func runBridge(ctx context.Context, from []string, group string, n, partitions int) (time.Duration, error) {
	to, closeTarget, err := target(ctx, group, partitions)
	if err != nil {
		return 0, err
	}
	defer closeTarget()
	b, err := bridge.New(from, to, group, []string{"bench"})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	defer func() {
		cancel()
		<-errc
	}()
	srcc := &kafka.Client{Addr: kafka.TCP(from...), Transport: &kafka.Transport{}}
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	for {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("bridge stopped")
			}
			return 0, err
		case <-time.After(2 * time.Millisecond):
		}
		resp, err := srcc.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{"bench": parts}})
		if err != nil {
			continue
		}
		var committed int64
		for _, p := range resp.Topics["bench"] {
			committed += max(p.CommittedOffset, 0)
		}
		if committed >= int64(n) {
			d := time.Since(start)
			if held, err := count(ctx, to, partitions); err != nil || held != int64(n) {
				return 0, fmt.Errorf("bridge committed %d messages but the target holds %d (%v)", committed, held, err)
			}
			return d, nil
		}
	}
}

// target starts a fresh target cluster holding an empty "bench" topic, so
// each run writes into the same conditions and the bridge keeps the topic's
// name, as it does.
func target(ctx context.Context, name string, partitions int) ([]string, func(), error) {
	dst, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("bench-dst-"+name))
	if err != nil {
		return nil, nil, err
	}
	to := dst.ListenAddrs()
	if err := createTopic(ctx, to, "bench", partitions); err != nil {
		dst.Close()
		return nil, nil, err
	}
	return to, dst.Close, nil
}
