package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPgRegions_PasswordHidden: a -pg DSN that cannot be used fails with an
// error that shows none of its password, however malformed it is. The
// servers listen nowhere (port 1), so nothing is created.
func TestPgRegions_PasswordHidden(t *testing.T) {
	for _, tc := range []struct {
		name, dsn string
		secrets   []string
	}{
		{"url", "postgres://me:s3cret@127.0.0.1:1/db?sslmode=disable", []string{"s3cret"}},
		{"url bad host", "postgres://me:s3cret@[bad", []string{"s3cret"}},
		{"url space in password", "postgres://me:s3cret more@127.0.0.1:1/db", []string{"s3cret", "more"}},
		{"url / in password", "postgres://me:123/s3cret@127.0.0.1:1/db", []string{"s3cret"}},
		{"url bad TLS mode", "postgres://127.0.0.1:1/db?sslpassword=s3cret&sslmode=bogus", []string{"s3cret"}},
		{"keyword bad TLS mode", "host=127.0.0.1 port=1 password=s3cret sslmode=bogus", []string{"s3cret"}},
		{"keyword unterminated quote", "host=127.0.0.1 port=1 password='s3cret more", []string{"s3cret", "more"}},
		{"keyword without =", "host=127.0.0.1 port=1 password s3cret", []string{"s3cret"}},
		{"no scheme", "me:s3cret@127.0.0.1:1/db", []string{"s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := pgRegions(t.Context(), tc.dsn, time.Millisecond)
			require.Error(t, err)
			require.Nil(t, r)
			for _, s := range tc.secrets {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}
