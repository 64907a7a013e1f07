package status

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func TestReason(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"deadline", live, fmt.Errorf("read: %w", context.DeadlineExceeded), ReasonTimeout},
		{"net timeout", live, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, ReasonTimeout},
		{"ctx ended first", ended, errors.New("conn closed"), ReasonTimeout},
		{"refused", live, fmt.Errorf("open pgstore: %w", refused), ReasonRefused},
		{"dns", live, &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "db.a.internal"}}, ReasonUnknownHost},
		{"mismatch", live, fmt.Errorf("region b: %w", xregion.ErrRegionMismatch), ReasonRegionMismatch},
		{"sqlstate", live, fmt.Errorf("x: %w", &pgconn.PgError{Code: "28P01", Message: "password authentication failed for user \"xregion\""}), "sqlstate 28P01"},
		{"not a sqlstate", live, &pgconn.PgError{Code: "host db.a.internal"}, ReasonError},
		{"reset", live, fmt.Errorf("x: %w", syscall.ECONNRESET), ReasonUnreachable},
		{"other", live, errors.New("postgres://u:secret@db/x is odd"), ReasonError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, reason(tc.ctx, tc.err))
		})
	}
}

func TestWorst(t *testing.T) {
	order := []Status{StatusUp, StatusDegraded, StatusDown, StatusUnreachable}
	for i, s := range order {
		for j, u := range order {
			require.Equal(t, order[max(i, j)], worst(s, u), "%s, %s", s, u)
		}
	}
}
