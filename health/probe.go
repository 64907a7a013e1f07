package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Probe asks a target once whether it is healthy: nil means yes. The
// Detector gives it a context with the probe timeout.
type Probe func(ctx context.Context) error

// HTTPProbe returns a Probe that GETs url with client (http.DefaultClient if
// nil): a 200 answer is a success; any other status, or no answer before
// the probe's timeout, a failure. A peer's /health answers 503 when it is
// DEGRADED or DOWN, so both count as failures.
func HTTPProbe(client *http.Client, url string) Probe {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("probe %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("probe: %w", err) // *url.Error names the URL
		}
		defer resp.Body.Close()
		// Drain a little so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("probe %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}
