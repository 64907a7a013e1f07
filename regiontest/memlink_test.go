package regiontest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/memstore"
)

func TestMemLink_BlackholeHoldsCallsUntilHealed(t *testing.T) {
	ctx := context.Background()
	store, err := memstore.New("b")
	require.NoError(t, err)
	link := regiontest.NewMemLink(0)
	remote := link.Store(store)
	_, staging := remote.(xregion.Stager)
	require.True(t, staging, "a Stager stays one across the link")

	link.Blackhole()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = remote.Watermark(short, "a")
	require.ErrorIs(t, err, context.DeadlineExceeded, "a blackholed link holds the call until the caller gives up")

	done := make(chan error, 1)
	go func() { _, err := remote.Watermark(ctx, "a"); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("call returned while blackholed: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	link.Heal()
	require.NoError(t, <-done, "a held call goes on once the link heals")
}

func TestMemLink_CallWhoseAnswerIsLost(t *testing.T) {
	link := regiontest.NewMemLink(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := link.Call(ctx, "a", func(context.Context) error {
		ran = true
		link.Blackhole() // the region dies after doing the work, before it answers
		return nil
	})
	require.True(t, ran)
	require.True(t, errors.Is(err, xregion.ErrOutcomeUnknown), "got %v", err)
}
