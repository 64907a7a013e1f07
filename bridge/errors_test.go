package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/bridge"
)

func TestIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("publish: %w", context.DeadlineExceeded), true},
		{kafka.RequestTimedOut, true},
		{kafka.NotLeaderForPartition, true},
		{fmt.Errorf("produce: %w", kafka.MessageSizeTooLarge), false},
		{&bridge.RefusedError{Topic: "t", Err: kafka.InvalidRecord}, false},
		{&bridge.PartitionMismatchError{Topic: "t", From: 1, To: 2}, false},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{errors.New("something else"), false},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			require.Equal(t, tc.want, bridge.IsRetryable(tc.err))
		})
	}
	require.ErrorIs(t, &bridge.RefusedError{Err: kafka.InvalidRecord}, kafka.InvalidRecord, "wraps the target's answer")
}
