package router

import (
	"context"
	"io"
	"net/http"
)

// IdempotencyKeyHeader marks a request as idempotent when present: the
// server deduplicates by its value, so the request may be sent twice.
const IdempotencyKeyHeader = "Idempotency-Key"

type idempotentKey struct{}

// Idempotent returns a shallow copy of req marked as safe to send twice, so
// that the RoundTripper retries it on another region after a transport
// error. Mark only requests the server treats as idempotent.
func Idempotent(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), idempotentKey{}, true))
}

// IsIdempotent reports whether the RoundTripper may send req twice: its
// method is GET, HEAD or OPTIONS, it was marked with Idempotent, or it has
// an Idempotency-Key header.
func IsIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	if marked, _ := req.Context().Value(idempotentKey{}).(bool); marked {
		return true
	}
	_, ok := req.Header[IdempotencyKeyHeader]
	return ok
}

// RoundTripper returns an http.RoundTripper that sends each request through
// base (http.DefaultTransport if nil) to the region Current chooses,
// rewriting the URL's scheme and host and the Host header and keeping the
// path and query. When base returns an error (no response), it retries the
// request once on another region if the request is idempotent (see
// IsIdempotent), its body can be had again (no body, or GetBody set) and
// its context has not ended; otherwise, and if the retry fails too, it
// returns a *RegionError. It never retries after a response, whatever its
// status. It is safe for concurrent use.
func (r *Router) RoundTripper(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{r: r, base: base}
}

type transport struct {
	r    *Router
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	first := t.r.current()
	resp, err := t.send(req, first, req.Body)
	if err == nil {
		return resp, nil
	}
	failed := &RegionError{Region: t.r.regions[first].Name, Method: method(req), Err: err}
	if !IsIdempotent(req) || req.Context().Err() != nil {
		return nil, failed
	}
	body := req.Body
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, failed
		}
		if body, err = req.GetBody(); err != nil {
			return nil, failed
		}
	}
	next, ok := t.r.alternative(first)
	if !ok {
		if body != req.Body {
			body.Close()
		}
		return nil, failed
	}
	t.r.logger.Debug("router: retrying on another region", "method", failed.Method,
		"failed", failed.Region, "retry", t.r.regions[next].Name, "err", err)
	resp, err = t.send(req, next, body)
	if err != nil {
		return nil, &RegionError{Region: t.r.regions[next].Name, Method: failed.Method, Err: err, First: failed}
	}
	return resp, nil
}

// send sends a copy of req, with body, to region i.
func (t *transport) send(req *http.Request, i int, body io.ReadCloser) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = body
	u := t.r.regions[i].URL
	out.URL.Scheme, out.URL.Host = u.Scheme, u.Host
	out.Host = u.Host
	return t.base.RoundTrip(out)
}

func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}
