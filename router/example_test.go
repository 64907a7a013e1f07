package router_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/health"
	"github.com/xregion/xregion/router"
)

func ExampleRouter() {
	var servers []*httptest.Server
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	serve := func(name string) *url.URL {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			fmt.Fprintf(w, "%s served %s", name, req.URL.Path)
		}))
		servers = append(servers, srv)
		u, _ := url.Parse(srv.URL)
		return u
	}
	clock := xregion.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := router.New([]router.Region{{Name: "eu", URL: serve("eu")}, {Name: "us", URL: serve("us")}},
		router.WithHoldDown(time.Minute), router.WithWallClock(clock))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: r.RoundTripper(nil)}
	get := func() {
		resp, err := client.Get("http://api.example.com/orders/42")
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s: %s\n", r.Current(), body)
	}

	get()
	r.Observe(health.Transition{Target: "eu", Up: false}) // as a Detector's WithTransition would
	get()
	r.Observe(health.Transition{Target: "eu", Up: true})
	clock.Advance(59 * time.Second)
	get() // eu is held down
	clock.Advance(time.Second)
	get()
	// Output:
	// eu: eu served /orders/42
	// us: us served /orders/42
	// us: us served /orders/42
	// eu: eu served /orders/42
}
