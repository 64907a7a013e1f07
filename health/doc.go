// Package health tells whether a region can serve, and decides whether a
// peer region is gone: a Handler answers GET /health with the region's
// checks and replication links, and a Detector probes a peer (its /health,
// or any check) and turns a run of failures into a verdict.
//
//	h, err := health.New("eu",
//		health.WithStore("database", store),
//		health.WithKafka("messaging", brokers),
//		health.WithLag("tier2", replicate.Tier2.RPO, replicator),
//		health.WithLogger(logger))
//	if err != nil { … }
//	mux.Handle("GET /health", h)
//
//	d, err := health.NewDetector("us", health.HTTPProbe(client, "https://us.example.com/health"),
//		health.WithTransition(func(t health.Transition) { … }),
//		health.WithMetrics(metrics))
//	go d.Run(ctx)
//
// # The /health contract
//
// The body is JSON; its field names and values are stable:
//
//	{
//	  "status": "UP" | "DEGRADED" | "DOWN",
//	  "region": "eu",
//	  "timestamp": "2026-01-02T03:04:05Z",      // RFC 3339, UTC: when the checks ran
//	  "checks": {
//	    "database":  {"status": "UP",   "critical": true, "latency_ms": 1.25},
//	    "messaging": {"status": "DOWN", "critical": true, "latency_ms": 2000.4, "reason": "timeout"}
//	  },
//	  "replication": [
//	    {"peer": "us", "tier": "tier2", "state": "shipping", "status": "UP",
//	     "rpo_ms": 2000, "target_ms": 900000,
//	     "last_contact": "2026-01-02T03:04:03.5Z", "since_contact_ms": 1500, "pending": 7}
//	  ]
//	}
//
// A check's "status" is UP or DOWN; "reason" appears only when DOWN and is
// "timeout" (it did not return within its timeout) or "error". "latency_ms"
// is how long it took, in milliseconds with a fraction. "replication" is []
// when no Lagger is given. A link's "state" is xregion.LinkState's name
// ("unknown" if the Lagger leaves it unset), "last_contact" is absent if the
// peer never answered, and "status" is UP or DEGRADED. A tier whose Lagger
// fails shows as a non-critical check named "replication:<tier>". Report
// and its field types are the Go form of the same contract.
//
// Nothing of a failure's text reaches the body: no error message, DSN,
// host or password, only the fixed reason. The error itself goes to the
// logger (WithLogger) with the check's name.
//
// # The status rule
//
//   - DOWN if any critical check failed (WithStore and WithKafka are
//     critical; WithCheck says);
//   - DEGRADED if a non-critical check failed, or a replication link is
//     over its tier's RPO target, in a state that is not
//     xregion.LinkState.Healthy, or its last call to the peer failed;
//   - UP otherwise.
//
// The answer is 200 when UP and 503 otherwise, so a load balancer or a
// Detector that only reads the code treats DEGRADED as not serving. HEAD
// answers the same code without a body; other methods get 405.
//
// # Checks and caching
//
// Checks run concurrently, each under its own timeout; a check that ignores
// its context is abandoned at the timeout. One round of checks serves every
// request for WithCacheFor (DefaultCacheFor, 1 s) on the Handler's wall
// clock, and requests that arrive while a round runs wait for it: a scrape
// storm of any size costs the database one query per check per period.
// StoreCheck reads the store's watermark of its own region (one cheap
// read); KafkaCheck dials a broker and reads the cluster's metadata.
//
// # The detector
//
// A Detector probes at once and then every interval (DefaultInterval,
// 10 s) under a probe timeout (half the interval unless set). It starts
// believing its target up. After DefaultFailures (3) consecutive failed
// probes it declares the target down, and only after DefaultSuccesses (2)
// consecutive successful ones up again, so a target that alternates
// success and failure never changes verdict in either direction. With the
// defaults a region that dies is declared down 20 to 30 s later, plus the
// last probe's timeout (the first probe to fail runs up to one interval
// after the death, and two more follow, 10 s apart). HTTPProbe counts only a 200 as a success. Each
// change is reported to WithTransition's callback and, through Metrics, as
// xregion_health_target_up and xregion_health_transitions_total; every
// probe is counted in xregion_health_probes_total by result.
//
// The Detector decides; it never acts. It does not fail over, move homes,
// or promote a standby: a caller may feed its verdict into an automatic
// active-passive promotion, but a two-person failover stays with people.
//
// # Hazards
//
// HAZARD: the Detector's verdict is one observer's. A network split between
// the observer and the target looks exactly like the target's death; a
// promotion that follows a single Detector can create two primaries.
// Fence (epochs, leases) before acting on it.
//
// HAZARD: probe timeouts and check timeouts are real time (network
// deadlines), not the injected clock: a test that controls the clock still
// waits for a blackholed probe's timeout.
//
// HAZARD: the cache serves a report up to WithCacheFor old; a Detector
// probing more often than that sees the same answer several times.
//
// A Handler and a Detector are safe for concurrent use.
package health
