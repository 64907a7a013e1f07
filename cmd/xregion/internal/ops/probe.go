package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/segmentio/kafka-go"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
)

// DefaultProbeTimeout bounds each probe unless Prober.Timeout says
// otherwise.
const DefaultProbeTimeout = 5 * time.Second

// Prober asks whether a region answers: its database, its /health URL,
// its Kafka brokers. Each probe waits at most Timeout; a region that does
// not answer within it counts as not answering. The zero Prober uses
// DefaultProbeTimeout, the system clock and a plain HTTP client. It is
// safe for concurrent use.
type Prober struct {
	Timeout time.Duration
	Wall    xregion.WallClock // times the probes
	HTTP    *http.Client
}

// Answer is what one probe found.
type Answer struct {
	Checked  bool // false when there was nothing to probe (no health URL)
	Answered bool
	Took     time.Duration
	Detail   string // what it answered, or why it did not
}

func (a Answer) String() string {
	switch {
	case !a.Checked:
		return a.Detail
	case a.Answered:
		return fmt.Sprintf("answered in %s (%s)", round(a.Took), a.Detail)
	}
	return a.Detail
}

// Reach is what probing a region found.
type Reach struct {
	Region        xregion.Region
	Store, Health Answer
}

// Answers reports whether anything of the region answered: a region whose
// store or health URL answers may still be writing.
func (r Reach) Answers() bool { return r.Store.Answered || r.Health.Answered }

func (r Reach) String() string {
	verb := "does not answer"
	if r.Answers() {
		verb = "answers"
	}
	return fmt.Sprintf("%s %s (store: %s; health: %s)", r.Region, verb, r.Store, r.Health)
}

func (p Prober) timeout() time.Duration {
	if p.Timeout <= 0 {
		return DefaultProbeTimeout
	}
	return p.Timeout
}

func (p Prober) wall() xregion.WallClock {
	if p.Wall == nil {
		return xregion.SystemClock{}
	}
	return p.Wall
}

// Region probes r's store and health URL at once. It fails only when it
// cannot probe: a DSN that does not parse, or ctx ending.
func (p Prober) Region(ctx context.Context, r config.Region) (Reach, error) {
	cfg, err := pgx.ParseConfig(r.DSN)
	if err != nil {
		// pgx's parse errors can quote the DSN, password and all.
		return Reach{}, fmt.Errorf("region %s: the dsn does not parse as a PostgreSQL connection string", r.Name)
	}
	cfg.ConnectTimeout = p.timeout()
	reach := Reach{Region: r.Name}
	health := make(chan Answer, 1)
	go func() { health <- p.health(ctx, r.Health) }()
	reach.Store = p.store(ctx, cfg)
	reach.Health = <-health
	if err := ctx.Err(); err != nil {
		return reach, err
	}
	return reach, nil
}

func (p Prober) store(ctx context.Context, cfg *pgx.ConnConfig) Answer {
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	began := p.wall().Now()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	a := Answer{Checked: true, Took: p.wall().Now().Sub(began)}
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		a.Answered, a.Detail = true, "PostgreSQL"
	case errors.As(err, &pgErr):
		// The server answered, if only to refuse: it is up.
		a.Answered, a.Detail = true, "PostgreSQL, refusing: "+pgErr.Message
	case ctx.Err() != nil || pgconn.Timeout(err):
		a.Detail = fmt.Sprintf("no answer within %s", round(p.timeout()))
	default:
		a.Detail = "no answer: " + oneLine(err)
	}
	return a
}

func (p Prober) health(ctx context.Context, url string) Answer {
	if url == "" {
		return Answer{Detail: "no health URL in the config"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	client := p.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	began := p.wall().Now()
	a := Answer{Checked: true}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		a.Detail = "cannot probe: " + oneLine(err)
		return a
	}
	resp, err := client.Do(req)
	a.Took = p.wall().Now().Sub(began)
	if err != nil {
		if ctx.Err() != nil {
			a.Detail = fmt.Sprintf("no answer within %s", round(p.timeout()))
		} else {
			a.Detail = "no answer: " + oneLine(err)
		}
		return a
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	a.Answered, a.Detail = true, fmt.Sprintf("HTTP %d", resp.StatusCode)
	if body.Status != "" {
		a.Detail += " " + body.Status
	}
	return a
}

// Kafka probes a Kafka cluster: nil if a broker answered a metadata
// request within the timeout, else why not.
func (p Prober) Kafka(ctx context.Context, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	t := &kafka.Transport{DialTimeout: p.timeout()}
	defer t.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: t, Timeout: p.timeout()}
	_, err := c.Metadata(ctx, &kafka.MetadataRequest{})
	var kerr kafka.Error
	var nerr net.Error
	switch {
	case err == nil || errors.As(err, &kerr):
		return nil
	case ctx.Err() != nil || errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("no answer within %s", round(p.timeout()))
	}
	return fmt.Errorf("no answer: %s", oneLine(err))
}

// round shortens a duration for people: milliseconds below ten seconds.
func round(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < 10*time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
