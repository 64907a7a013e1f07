// Package router sends a client's requests to the region of a multi-region
// API that should serve them: the preferred region while it is healthy, the
// next one as soon as a failure detector says it is not, and back only once
// it has stayed healthy for a hold-down time.
//
//	r, err := router.New([]router.Region{
//		{Name: "eu", URL: euURL}, // preferred
//		{Name: "us", URL: usURL},
//	}, router.WithHoldDown(2*time.Minute))
//	if err != nil { … }
//	for _, reg := range r.Regions() {
//		d, err := health.NewDetector(string(reg.Name),
//			health.HTTPProbe(nil, reg.URL.JoinPath("health").String()),
//			health.WithTransition(r.Observe))
//		if err != nil { … }
//		go d.Run(ctx)
//	}
//	client := &http.Client{Transport: r.RoundTripper(nil)}
//	resp, err := client.Get("https://api.example.com/orders/42") // host rewritten
//
// Clients that do not speak HTTP through a RoundTripper (a database driver,
// a gRPC channel) ask Current for the region's name on each call or
// connection and map it to their own endpoint.
//
// # Why on the client
//
// DNS failover moves clients only when they look the name up again: after
// the health check decides (30 s), the record's TTL and every resolver and
// client cache that ignores it (60 to 120 s and more). A Router decides per
// request, from verdicts it holds in memory, so the switch happens on the
// first request after the verdict: nothing is cached that must expire, and
// connections kept alive to the old region are simply no longer used.
//
// # The rule
//
// Every region starts up. Current returns the first region, in preference
// order, that is up and eligible. A region is eligible if it was never seen
// down, or if it has been up again for at least the hold-down
// (DefaultHoldDown, 60 s, measured on the WithWallClock clock from the
// moment the Router learned it was up). A region that goes down during its
// hold-down starts it again when it next comes up, so a region that flaps
// faster than the hold-down never takes traffic back. If no region is
// eligible, Current returns the first one that is up, held down or not;
// if every region is down, it returns the most preferred region, since
// sending somewhere is the only way a request can succeed.
//
// Verdicts come from Observe (wire it as health.WithTransition(r.Observe)
// on one health.Detector per region, named as the region) or SetUp. A
// verdict on a region the Router does not have is an error from SetUp, and
// is ignored with a warning in the log by Observe, whose caller cannot take
// an error.
//
// # Retries and idempotency
//
// Between a region's death and the Detector's verdict (with its defaults,
// 20 to 30 s) requests still go to the dead region. A request that gets no
// response there (the base RoundTripper returns an error, such as a refused
// or reset connection or a timeout) is retried once, on the region Current
// would choose if the failed one were down, only if sending it twice is
// harmless:
//
//   - its method is GET, HEAD or OPTIONS, or it was marked with Idempotent,
//     or it carries an Idempotency-Key header (the server deduplicates);
//   - its body, if any, can be read again (req.GetBody is set, as
//     http.NewRequest does for bytes, strings and bytes.Reader bodies);
//   - its context has not ended.
//
// Any other failure comes back to the caller as a *RegionError that names
// the region: the request may have been acted on there, and only the caller
// knows whether to try again. A response, whatever its status (a 503
// included), is never retried: the region answered, and the caller decides.
//
// # Hazards
//
// HAZARD: a transport error does not mark a region down; only a verdict
// does. Until the verdict every request pays one failed attempt on the dead
// region first: little for a refused connection, a full timeout for a
// blackholed one. Give the base transport a dial and response-header
// timeout shorter than the caller's patience.
//
// HAZARD: a retried request may have been applied by the region that
// failed (it died after acting, before answering). Idempotent requests make
// that harmless; marking a request Idempotent that is not makes it a
// duplicate.
//
// HAZARD: the Router follows its own Detectors. A client cut off from the
// preferred region while others still reach it moves on its own; that is
// what a client-side router is for, but it means two clients may use two
// regions at once. The API behind it must accept writes in either region
// (or refuse them in the wrong one).
//
// A Router and its RoundTrippers are safe for concurrent use.
package router
