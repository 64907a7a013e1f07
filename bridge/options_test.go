package bridge_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
)

func TestNew_Invalid(t *testing.T) {
	brokers := []string{"127.0.0.1:9092"}
	for _, tc := range []struct {
		name     string
		from, to []string
		group    string
		topics   []string
		opts     []bridge.Option
		want     string
	}{
		{"no source", nil, brokers, "g", []string{"t"}, nil, "source brokers"},
		{"no target", brokers, nil, "g", []string{"t"}, nil, "target brokers"},
		{"no group", brokers, brokers, "", []string{"t"}, nil, "group"},
		{"no topics", brokers, brokers, "g", nil, nil, "topics"},
		{"bad topic", brokers, brokers, "g", []string{"a/b"}, nil, `"a/b"`},
		{"topic twice", brokers, brokers, "g", []string{"t", "t"}, nil, "named twice"},
		{"zero timeout", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithRequestTimeout(0)}, "WithRequestTimeout"},
		{"backoff upside down", brokers, brokers, "g", []string{"t"},
			[]bridge.Option{bridge.WithBackoff(time.Second, time.Millisecond)}, "below minimum"},
		{"tiny batches", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithMaxBatchBytes(10)}, "WithMaxBatchBytes"},
		{"start offset", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithStartOffset(42)}, "FirstOffset"},
		{"one name", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithNames("a", "")}, "both clusters"},
		{"same names", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithNames("a", "a")}, "both named"},
		{"comma in name", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithNames("a,b", "c")}, "comma"},
		{"dead letter is bridged", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithDeadLetter("t")}, "also a topic"},
		{"id header namespace", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithIDHeader("xregion-x")}, "namespace"},
		{"mapping", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithMapping(7)}, "unknown mapping"},
		{"nil logger", brokers, brokers, "g", []string{"t"}, []bridge.Option{bridge.WithLogger(nil)}, "nil logger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := bridge.New(tc.from, tc.to, tc.group, tc.topics, tc.opts...)
			require.Nil(t, b)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
