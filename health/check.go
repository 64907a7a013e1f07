package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xregion/xregion"
)

// StoreCheck returns a check of s's reachability: it reads s's watermark of
// region, a single cheap read that must reach the store's database. Give
// it the Handler's own region.
func StoreCheck(s xregion.Store, region xregion.Region) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if _, err := s.Watermark(ctx, region); err != nil {
			return fmt.Errorf("read watermark: %w", err)
		}
		return nil
	}
}

// KafkaCheck returns a check of a Kafka cluster: it dials the brokers in
// turn with kafka-go and reads the cluster's metadata (its brokers) from the
// first that answers. It fails when none does before the check's deadline.
func KafkaCheck(brokers []string) func(ctx context.Context) error {
	brokers = append([]string(nil), brokers...)
	return func(ctx context.Context) error {
		var errs []error
		for _, b := range brokers {
			err := kafkaMetadata(ctx, b)
			if err == nil {
				return nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return errors.Join(errs...)
	}
}

func kafkaMetadata(ctx context.Context, broker string) error {
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		return fmt.Errorf("dial kafka broker %s: %w", broker, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultCheckTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("set deadline on kafka broker %s: %w", broker, err)
	}
	// The deadline does not see ctx's cancellation; closing the conn does.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := conn.Brokers(); err != nil {
		return fmt.Errorf("read kafka metadata from %s: %w", broker, err)
	}
	return nil
}
