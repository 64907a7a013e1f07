package status

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
)

// The reasons a report gives for what it could not read: fixed words, so
// that no error text (which can quote a host, a DSN or a password) reaches
// the output.
const (
	ReasonTimeout        = "timeout"         // no answer before the deadline
	ReasonRefused        = "refused"         // the connection was refused
	ReasonUnknownHost    = "unknown host"    // the host name does not resolve
	ReasonUnreachable    = "unreachable"     // another network failure
	ReasonNoStore        = "no store"        // the database holds no xregion store: a wrong dsn?
	ReasonRegionMismatch = "region mismatch" // the database holds another region's data
	ReasonBadAnswer      = "bad answer"      // /health answered something that is not its report
	ReasonWrongRegion    = "wrong region"    // /health answered for another region
	ReasonError          = "error"           // anything else; the logger has the error
	// A PostgreSQL error is given as "sqlstate " and its five-character
	// code, e.g. "sqlstate 28P01" for a refused password; an HTTP status
	// other than 200 and 503 as "http " and the code, e.g. "http 404".
)

// reason classifies err, met while ctx was in force, as one of the fixed
// reasons.
func reason(ctx context.Context, err error) string {
	var (
		ne    net.Error
		dns   *net.DNSError
		pgErr *pgconn.PgError
		op    *net.OpError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), ctx.Err() != nil:
		// A network deadline set from ctx's may fire a moment before it.
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.As(err, &dns):
		return ReasonUnknownHost
	case errors.Is(err, xregion.ErrRegionMismatch):
		return ReasonRegionMismatch
	case errors.Is(err, config.ErrNoStore):
		return ReasonNoStore
	case errors.As(err, &pgErr) && sqlstate(pgErr.Code):
		return "sqlstate " + pgErr.Code
	case errors.As(err, &op), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return ReasonUnreachable
	}
	return ReasonError
}

// sqlstate reports whether code looks like a SQLSTATE, so that nothing
// else a server sends reaches the output.
func sqlstate(code string) bool {
	if len(code) != 5 {
		return false
	}
	for _, c := range []byte(code) {
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}
