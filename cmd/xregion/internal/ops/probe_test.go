package ops

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/cmd/xregion/internal/config"
)

// silent returns the address of a listener that accepts connections (the
// kernel completes the handshake) and never answers: a region gone dark.
func silent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// refused returns an address nothing listens on.
func refused(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestProber_Region(t *testing.T) {
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"DOWN","region":"a"}`))
	}))
	t.Cleanup(health.Close)
	const timeout = 100 * time.Millisecond
	p := Prober{Timeout: timeout}

	for _, tc := range []struct {
		name    string
		region  config.Region
		answers bool
		want    string
	}{
		{"dark", config.Region{Name: "a", DSN: "postgres://x@" + silent(t) + "/db"}, false,
			"a does not answer (store: no answer within 100ms; health: no health URL in the config)"},
		{"refused", config.Region{Name: "a", DSN: "postgres://x@" + refused(t) + "/db", Health: "http://" + refused(t) + "/health"}, false,
			"a does not answer (store: no answer: "},
		{"health answers", config.Region{Name: "a", DSN: "postgres://x@" + silent(t) + "/db", Health: health.URL}, true,
			"a answers (store: no answer within 100ms; health: answered in "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.Region(t.Context(), tc.region)
			require.NoError(t, err)
			require.Equal(t, tc.answers, r.Answers())
			require.Contains(t, r.String(), tc.want)
			if tc.answers {
				require.Contains(t, r.String(), "(HTTP 503 DOWN)")
			}
		})
	}

	_, err := p.Region(t.Context(), config.Region{Name: "a", DSN: "postgres://x:secret@[::1"})
	require.ErrorContains(t, err, "does not parse")
	require.NotContains(t, err.Error(), "secret")
}

func TestProber_Kafka(t *testing.T) {
	p := Prober{Timeout: 100 * time.Millisecond}
	require.ErrorContains(t, p.Kafka(t.Context(), []string{silent(t)}), "no answer within 100ms")
	require.ErrorContains(t, p.Kafka(t.Context(), []string{refused(t)}), "no answer: ")
}
