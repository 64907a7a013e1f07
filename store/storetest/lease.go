package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// testLease checks xregion.Leaser, for stores that offer it.
func (s suite) testLease(t *testing.T) {
	st := s.newStore(t, regionA)
	leaser, ok := st.(xregion.Leaser)
	if !ok {
		t.Skip("the store does not implement xregion.Leaser")
	}
	first, ok, err := leaser.TryLease(t.Context(), "ship to b")
	require.NoError(t, err)
	require.True(t, ok, "a free lease is taken")

	_, ok, err = leaser.TryLease(t.Context(), "ship to b")
	require.NoError(t, err)
	require.False(t, ok, "a held lease is not taken twice")

	other, ok, err := leaser.TryLease(t.Context(), "ship to c")
	require.NoError(t, err)
	require.True(t, ok, "leases of other names are independent")
	other.Release()

	select {
	case <-first.Lost():
		t.Fatal("a held lease reports itself lost")
	default:
	}
	first.Release()
	first.Release() // harmless
	<-first.Lost()

	again, ok, err := leaser.TryLease(t.Context(), "ship to b")
	require.NoError(t, err)
	require.True(t, ok, "a released lease can be taken again")
	again.Release()
}
