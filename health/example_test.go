package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/store/memstore"
)

func ExampleHandler() {
	store, err := memstore.New("eu")
	if err != nil {
		panic(err)
	}
	lag := xregion.LagFunc(func(context.Context) ([]xregion.PeerLag, error) {
		return []xregion.PeerLag{{Peer: "us", RPO: 20 * time.Minute, State: xregion.LinkShipping}}, nil
	})
	h, err := health.New("eu",
		health.WithStore("database", store),
		health.WithLag("tier2", 15*time.Minute, lag),
		health.WithWallClock(xregion.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))))
	if err != nil {
		panic(err)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var rep health.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, rep.Status, rep.Region, rep.Timestamp)
	fmt.Println("database:", rep.Checks["database"].Status)
	l := rep.Replication[0]
	fmt.Println(l.Peer, l.Tier, l.State, l.Status, l.RPOMS, l.TargetMS)
	// Output:
	// 503 DEGRADED eu 2026-01-02T03:04:05Z
	// database: UP
	// us tier2 shipping DEGRADED 1200000 900000
}
