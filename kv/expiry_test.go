package kv_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
)

// TestExpiry_SkewedRegions: with b's clock skewed against a's within the
// maximum offset, an entry written in a expires at the same instant in
// both regions; each region reads it gone once its own clock passes that
// instant, so they disagree only while one clock has passed it and the
// other has not (never longer than the skew), and agree from then on. A
// write after the expiry, in the other region, is a new entry that
// replicates back without a conflict.
func TestExpiry_SkewedRegions(t *testing.T) {
	const ttl = 2 * time.Second
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		rs := open(t, "a", "b")
		for i, skew := range []time.Duration{-xregion.DefaultMaxOffset, -400 * time.Millisecond, -time.Nanosecond, 0, time.Millisecond, 499 * time.Millisecond} {
			t.Run(fmt.Sprintf("b%+v", skew), func(t *testing.T) {
				start := t0.Add(time.Duration(i) * 24 * time.Hour)
				restart(t, rs, start)
				a, b := rs[0], rs[1]
				b.wall.Set(start.Add(skew))
				key := fmt.Sprintf("s%d", i)

				e := mustPut(t, a.kv, "sessions", key, "token", kv.TTL(ttl))
				ship(t, a, b)
				exp := e.Version.Time.GoTime().Add(ttl)
				for _, r := range rs {
					got, err := r.kv.Get(t.Context(), "sessions", key)
					require.NoError(t, err, "in %s", r.name)
					require.True(t, exp.Equal(got.Expires), "in %s: expires %s, want %s", r.name, got.Expires, exp)
					require.Equal(t, e, got)
				}

				// Real time, as a's clock reads it; b's reads it plus skew.
				// Each region reads the entry gone once its own clock is at
				// the expiry instant: before the earlier clock gets there
				// both hold it, once the later one has both agree it is
				// gone, and in between (never longer than the skew) the
				// region whose clock is ahead no longer shows it.
				first, last := -max(skew, 0), -min(skew, 0) // when each clock reaches it
				for _, at := range []time.Duration{-time.Second, first - time.Nanosecond, first, -time.Nanosecond, 0,
					last - time.Nanosecond, last, xregion.DefaultMaxOffset, time.Hour} {
					now := exp.Add(at)
					if now.Before(a.wall.Now()) {
						continue // clocks only move forward here
					}
					a.wall.Set(now)
					b.wall.Set(now.Add(skew))
					aLive, bLive := contains(t, a.kv, "sessions", key), contains(t, b.kv, "sessions", key)
					require.Equal(t, at < 0, aLive, "a at expiry%+v", at)
					require.Equal(t, at+skew < 0, bLive, "b at expiry%+v", at)
					if at < first {
						require.True(t, aLive && bLive, "both hold it before either clock reaches the expiry")
					}
					if at >= last {
						require.False(t, aLive || bLive, "both agree it is gone once both clocks passed the expiry")
					}
				}

				// b writes the key again: a new entry, with a version and an
				// expiry of its own, on what b read (a's expired entry).
				renewed := mustPut(t, b.kv, "sessions", key, "again", kv.TTL(ttl), kv.IfAbsent())
				require.True(t, e.Version.Less(renewed.Version))
				require.Equal(t, e.Version, raw(t, b, "sessions", key).Base)
				ship(t, b, a)
				got, err := a.kv.Get(t.Context(), "sessions", key)
				require.NoError(t, err)
				require.Equal(t, renewed, got)
				require.Empty(t, ledger(t, a))
				require.Empty(t, ledger(t, b))
			})
		}
	})
}

// TestExpiry_Property checks, for random skews within the maximum offset,
// TTLs and writing regions, the promise of the package documentation: the
// expiry instant is the same number in both regions, a region reads the
// entry gone exactly when its own HLC has reached it, and the two regions
// disagree for at most the skew between their clocks.
func TestExpiry_Property(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 4))
	for i := range 200 {
		skew := time.Duration(rng.Int64N(int64(2*xregion.DefaultMaxOffset)+1)) - xregion.DefaultMaxOffset
		ttl := time.Duration(1 + rng.Int64N(int64(3*time.Second)))
		rs := memRegions(t, "a", "b")
		rs[1].wall.Set(t0.Add(skew))
		w, r := rs[i%2], rs[1-i%2]
		if w == rs[1] {
			skew = -skew // skew of r against w
		}
		e := mustPut(t, w.kv, "ns", "k", "v", kv.TTL(ttl))
		ship(t, w, r)
		// The same record, so the same expiry, in both regions (it may
		// have expired on arrival in a region whose clock is ahead).
		require.Equal(t, raw(t, w, "ns", "k"), raw(t, r, "ns", "k"), "case %d", i)

		// Probe at random real times, in order, as w's clock reads them.
		var disagree time.Duration
		last, lastDiffer := w.wall.Now(), false
		for range 40 {
			now := last.Add(time.Duration(rng.Int64N(int64(ttl/10 + xregion.DefaultMaxOffset/10))))
			w.wall.Set(now)
			r.wall.Set(now.Add(skew))
			wLive, rLive := contains(t, w.kv, "ns", "k"), contains(t, r.kv, "ns", "k")
			require.Equal(t, now.Before(e.Expires), wLive, "case %d: %s at %s", i, w.name, now)
			require.Equal(t, now.Add(skew).Before(e.Expires), rLive, "case %d: %s at %s", i, r.name, now.Add(skew))
			if lastDiffer {
				disagree += now.Sub(last)
			}
			last, lastDiffer = now, wLive != rLive
		}
		require.LessOrEqual(t, disagree, skew.Abs()+ttl/10+xregion.DefaultMaxOffset/10, "case %d: disagreed longer than the skew (plus a probe step)", i)
	}
}
