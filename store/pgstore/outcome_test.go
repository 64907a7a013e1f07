package pgstore

import (
	"errors"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// outcome tells a batch refused for its size, which smaller batches may get
// through, from other refusals and from a lost connection.
func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		err      error
		tooLarge bool
		unknown  bool
	}{
		{&pgconn.PgError{Code: "54000", Message: "array size exceeds the maximum allowed"}, true, false},
		{&pgconn.PgError{Code: "53200", Message: "out of memory"}, true, false},
		{&pgconn.PgError{Code: "XX000", Message: "invalid memory alloc request size 1258291200"}, true, false},
		{&pgconn.PgError{Code: "XX000", Message: "could not read block"}, false, false},
		{&pgconn.PgError{Code: "23505", Message: "duplicate key value"}, false, false},
		{io.ErrUnexpectedEOF, false, true},
	} {
		err := outcome(c.err)
		require.True(t, errors.Is(err, c.err), "%v: the cause stays", c.err)
		require.Equal(t, c.tooLarge, errors.Is(err, xregion.ErrTooLarge), "%v", c.err)
		require.Equal(t, c.unknown, errors.Is(err, xregion.ErrOutcomeUnknown), "%v", c.err)
	}
}
