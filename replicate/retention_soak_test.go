package replicate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
)

// The soak's retention: short windows, so that a run of seconds shows what
// a day would. Region b keeps little for a dark peer, so that c passes its
// limit there during the run; a keeps much more, so that c passes it
// nowhere near.
var (
	soakRetention = replicate.Retention{
		Every:            100 * time.Millisecond,
		PeerChangesFor:   500 * time.Millisecond,
		TombstoneHorizon: 500 * time.Millisecond,
		LedgerFor:        500 * time.Millisecond,
		BatchSize:        500,
		MaxUnconfirmed:   64 << 20,
	}
	soakSmallLimit int64 = 32 << 10
)

const (
	soakTick     = 10 * time.Millisecond // each region writes once a tick
	soakKeepUp   = 10 * time.Second
	soakDark     = 7 * time.Second
	soakWarmUp   = 2 * time.Second // of keeping up, before sizes are held to the bound
	soakShared   = 200             // keys every region writes (blind, so they conflict)
	soakValueLen = 100
)

// soakSizes is what one region's store holds, counted in its database.
type soakSizes struct {
	changelog, own, ledger, inbox, tombstones int64
}

func (s soakSizes) max(o soakSizes) soakSizes {
	return soakSizes{max(s.changelog, o.changelog), max(s.own, o.own), max(s.ledger, o.ledger), max(s.inbox, o.inbox), max(s.tombstones, o.tombstones)}
}

// TestRetention_Soak writes continuously in three PostgreSQL regions with
// retention on. While every peer keeps up, each store's changelog, ledger,
// inbox and tombstones stay below a bound far under what was written. Then
// region c goes dark for the rest of the run: no region removes a change c
// has not applied, except b past its (small) limit, which raises the alert;
// tombstones wait for c; and when c returns it receives everything from a
// by shipping, and from b after a resync.
func TestRetention_Soak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: runs for about 25 s")
	}
	ctx := t.Context()
	ns := pgNodes(t, "a", "b", "c")
	a, b, c := ns[0], ns[1], ns[2]
	// The regions share one PostgreSQL server, whose oldest open
	// transaction holds back every region's changelog (see pgstore's
	// HAZARD): a transaction of c's cut off by the blackhole halfway would
	// stop all shipping until c returns. Set what pgstore's doc advises on
	// c's database, and reconnect through the proxy to take it up.
	_, err := c.pg.Direct.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{c.pg.DBName}.Sanitize()+
		` SET idle_in_transaction_session_timeout = '500ms'`)
	require.NoError(t, err)
	c.pg.Proxy.Reset()
	remotes := func(n *node) []xregion.Store {
		var out []xregion.Store
		for _, o := range ns {
			if o != n {
				out = append(out, o.remote)
			}
		}
		return out
	}
	var (
		alertMu sync.Mutex
		alerts  []replicate.Alert
	)
	alerted := func(from xregion.Region) replicate.Option {
		return replicate.WithAlerts(func(al replicate.Alert) {
			if al.Kind == replicate.AlertTruncated {
				alertMu.Lock()
				defer alertMu.Unlock()
				al.Target = 0
				al.RPO = 0
				alerts = append(alerts, al)
				t.Logf("alert from %s: %s %s: %v", from, al.Kind, al.Peer, al.Err)
			}
		})
	}
	logs := &lockedBuffer{}
	common := []replicate.Option{replicate.WithHeartbeat(200 * time.Millisecond), replicate.WithMaxBackoff(200 * time.Millisecond),
		replicate.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))}
	retentionFailed := func() []string {
		var out []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "retention failed") {
				out = append(out, line)
			}
		}
		return out
	}
	small := soakRetention
	small.MaxUnconfirmed = soakSmallLimit

	ra, err := replicate.NewSync(a.store, a.clock, remotes(a), append(common, alerted("a"), replicate.WithRetention(soakRetention),
		replicate.WithPolicy(replicate.Degrade), replicate.WithDegradeAfter(300*time.Millisecond))...)
	require.NoError(t, err)
	defer ra.Close()
	rb, err := replicate.NewAsync(b.store, b.clock, remotes(b), append(common, alerted("b"), replicate.WithRetention(small))...)
	require.NoError(t, err)
	defer rb.Close()
	newC := func() *replicate.Async {
		rc, err := replicate.NewAsync(c.store, c.clock, remotes(c), append(common, alerted("c"), replicate.WithRetention(soakRetention))...)
		require.NoError(t, err)
		return rc
	}
	rc := newC()
	writers := map[xregion.Region]func(context.Context, ...xregion.Write) error{"a": ra.Write, "b": rb.Write, "c": rc.Write}

	// Writers: every tick, a blind write of a shared key, and every other
	// tick a key of the region's own made or, two ticks later, deleted: a
	// tombstone each time.
	var (
		wg      sync.WaitGroup
		written = map[xregion.Region]*int64{"a": new(int64), "b": new(int64), "c": new(int64)}
		stops   = map[xregion.Region]chan struct{}{}
		writeMu sync.Mutex
		failed  []error
	)
	write := func(n *node) {
		defer wg.Done()
		tick := time.NewTicker(soakTick)
		defer tick.Stop()
		value := strings.Repeat(string(n.name), soakValueLen)
		for i := 0; ; i++ {
			select {
			case <-stops[n.name]:
				return
			case <-tick.C:
			}
			ws := []xregion.Write{order(fmt.Sprintf("shared-%03d", i%soakShared), value)}
			switch i % 4 {
			case 0:
				ws = append(ws, order(fmt.Sprintf("own-%s-%06d", n.name, i), value))
			case 2:
				d := order(fmt.Sprintf("own-%s-%06d", n.name, i-2), "")
				d.Record.Tombstone = true
				ws = append(ws, d)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := writers[n.name](wctx, ws...)
			cancel()
			writeMu.Lock()
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", n.name, err))
			} else {
				*written[n.name] += int64(len(ws))
			}
			writeMu.Unlock()
		}
	}
	for _, n := range ns {
		stops[n.name] = make(chan struct{})
	}
	for _, n := range ns {
		wg.Add(1)
		go write(n)
	}
	stopWriting := func(names ...xregion.Region) {
		for _, name := range names {
			close(stops[name])
		}
	}

	// sizes counts what a region holds, in its database, past the proxy.
	sizes := func(n *node) soakSizes {
		var s soakSizes
		err := n.pg.Direct.QueryRow(ctx, `SELECT (SELECT count(*) FROM xregion._changelog),
				(SELECT count(*) FROM xregion._changelog WHERE origin = $1),
				(SELECT count(*) FROM xregion._lost_updates), (SELECT count(*) FROM xregion._inbox),
				(SELECT count(*) FROM xregion.orders WHERE tombstone)`, string(n.name)).
			Scan(&s.changelog, &s.own, &s.ledger, &s.inbox, &s.tombstones)
		require.NoError(t, err)
		return s
	}
	// unconfirmed checks that no region removed a change of its own that a
	// peer has not applied: the mark is read before the watermark, which
	// only moves forward. It returns the pairs where one was.
	unconfirmed := func() []string {
		var out []string
		for _, from := range ns {
			mark, _, err := from.store.(xregion.Retainer).Truncated(ctx, from.name)
			require.NoError(t, err)
			for _, to := range ns {
				if to == from {
					continue
				}
				wm := watermark(t, to.store, from.name) // the direct store: c's too while it is dark
				if wm.Less(mark) {
					out = append(out, fmt.Sprintf("%s->%s", from.name, to.name))
				}
			}
		}
		return out
	}

	// Keeping up.
	start := time.Now()
	var peak [3]soakSizes
	var removedUnconfirmed []string
	for time.Since(start) < soakKeepUp {
		time.Sleep(250 * time.Millisecond)
		removedUnconfirmed = append(removedUnconfirmed, unconfirmed()...)
		if time.Since(start) < soakWarmUp {
			continue
		}
		for i, n := range ns {
			peak[i] = peak[i].max(sizes(n))
		}
	}
	writeMu.Lock()
	keptUp := map[xregion.Region]int64{"a": *written["a"], "b": *written["b"], "c": *written["c"]}
	writeMu.Unlock()
	total := keptUp["a"] + keptUp["b"] + keptUp["c"]
	t.Logf("keeping up for %s: %d writes (a %d, b %d, c %d)", soakKeepUp, total, keptUp["a"], keptUp["b"], keptUp["c"])
	for i, n := range ns {
		t.Logf("  %s peak after %s: changelog %d (own %d), ledger %d, inbox %d, tombstones %d",
			n.name, soakWarmUp, peak[i].changelog, peak[i].own, peak[i].ledger, peak[i].inbox, peak[i].tombstones)
	}
	require.Empty(t, removedUnconfirmed, "changes removed before every peer applied them")
	require.Empty(t, retentionFailed())
	alertMu.Lock()
	require.Empty(t, alerts, "no peer was dark")
	alertMu.Unlock()
	// Without retention each store would hold a change for nearly every
	// write, about as many ledger entries, and a tombstone per six writes
	// (one delete every four ticks of a write and a half): the bounds are
	// a fraction of that, loose enough for a slow machine (the writes are
	// paced, so it writes less). The inbox holds a's writes on their way.
	for i, n := range ns {
		require.Less(t, peak[i].changelog, total/3, "%s changelog", n.name)
		require.Less(t, peak[i].ledger, total/3, "%s ledger", n.name)
		require.Less(t, peak[i].inbox, keptUp["a"]/3, "%s inbox", n.name)
		require.Less(t, peak[i].tombstones, total/6/2, "%s tombstones", n.name)
	}

	// c goes dark for the rest of the run.
	require.NoError(t, rc.Close())
	stopWriting("c")
	c.pg.Proxy.Blackhole()
	darkFrom := sizes(a)
	darkStart := time.Now()
	var darkPeak [3]soakSizes
	for time.Since(darkStart) < soakDark {
		time.Sleep(250 * time.Millisecond)
		removedUnconfirmed = append(removedUnconfirmed, unconfirmed()...)
		for i, n := range ns[:2] {
			darkPeak[i] = darkPeak[i].max(sizes(n))
		}
	}
	stopWriting("a", "b")
	wg.Wait()
	removedUnconfirmed = append(removedUnconfirmed, unconfirmed()...)
	writeMu.Lock()
	t.Logf("c dark for %s: a wrote %d, b %d; %d writes failed %v", soakDark, *written["a"]-keptUp["a"], *written["b"]-keptUp["b"], len(failed), failed)
	writeMu.Unlock()
	for i, n := range ns[:2] {
		t.Logf("  %s peak: changelog %d (own %d), ledger %d, inbox %d, tombstones %d",
			n.name, darkPeak[i].changelog, darkPeak[i].own, darkPeak[i].ledger, darkPeak[i].inbox, darkPeak[i].tombstones)
	}

	// Only b removed what c lacks, past its limit, and said so.
	for _, pair := range removedUnconfirmed {
		require.Equal(t, "b->c", pair, "changes removed that a peer had not applied, within the limit")
	}
	require.NotEmpty(t, removedUnconfirmed, "b's limit must have been reached, or the test proves nothing")
	alertMu.Lock()
	require.Len(t, alerts, 1, "one alert, when b's limit was reached")
	require.Equal(t, xregion.Region("c"), alerts[0].Peer)
	require.ErrorIs(t, alerts[0].Err, xregion.ErrTruncated)
	alertMu.Unlock()
	// The writes have stopped: b's next retention run brings what it
	// keeps for c to the limit, however late a busy machine runs it.
	var bKept xregion.Backlog
	bound := soakSmallLimit + int64(time.Second/soakTick)*2*(soakValueLen+16)
	wmc := watermark(t, c.store, "b")
	require.Eventually(t, func() bool {
		var err error
		bKept, err = b.store.Backlog(ctx, wmc, "b") // counts what is left
		return err == nil && bKept.Bytes <= bound
	}, 30*time.Second, 50*time.Millisecond, "b keeps the limit, and at most a second of writes since its last run")
	t.Logf("  b keeps %d bytes of its changes for c (limit %d)", bKept.Bytes, soakSmallLimit)
	aKept := backlog(t, a.store, watermark(t, c.store, "a"))
	_, err = a.store.Changes(ctx, xregion.ChangeQuery{After: watermark(t, c.store, "a"), Origin: "a", Limit: 1})
	require.NoError(t, err, "a keeps every change c lacks")
	t.Logf("  a keeps %d changes, %d bytes, for c", aKept.Changes, aKept.Bytes)
	require.Greater(t, darkPeak[0].tombstones, darkFrom.tombstones, "tombstones wait for c")

	require.Empty(t, retentionFailed(), "a dark peer makes retention wait for it, not fail")

	// c returns. a ships it everything; b cannot, and says why.
	returned := time.Now()
	c.pg.Proxy.Heal()
	rc = newC()
	defer rc.Close()
	head := backlog(t, a.store, xregion.Position{}).Head
	require.Eventually(t, func() bool { return !watermark(t, c.store, "a").Less(head) }, 20*time.Second, 10*time.Millisecond,
		"c receives every change of a")
	t.Logf("c has every change of a %s after it returned", time.Since(returned).Round(time.Millisecond))
	require.Eventually(t, func() bool {
		lags, err := rb.Lag(ctx)
		require.NoError(t, err)
		return lags[1].Peer == "c" && errors.Is(lags[1].Err, xregion.ErrTruncated)
	}, 10*time.Second, 10*time.Millisecond, "b's lag says that c needs a resync")

	resolver := func(n *node) *lww.Resolver {
		r, err := lww.New(n.clock)
		require.NoError(t, err)
		return r
	}
	rep, err := resync.Run(ctx, c.store, b.store, []resync.Table{{Name: "orders", A: resolver(c), B: resolver(b)}})
	require.NoError(t, err)
	require.True(t, rep.Verified.Equal())
	t.Logf("resync of c from b: keys by %s, %d to c, %d to b", rep.Plan.Source, rep.Applied.ToA, rep.Applied.ToB)
	headB := backlog(t, b.store, xregion.Position{}).Head
	require.Eventually(t, func() bool { return !watermark(t, c.store, "b").Less(headB) }, 20*time.Second, 10*time.Millisecond,
		"b ships to c again")

	// Every region holds the same, and with everyone caught up the
	// tombstones go again.
	for _, pair := range [][2]*node{{a, b}, {a, c}, {b, c}} {
		require.Eventually(t, func() bool {
			v, err := resync.Verify(ctx, pair[0].store, pair[1].store, []resync.Table{{Name: "orders", A: resolver(pair[0]), B: resolver(pair[1])}})
			return err == nil && v.Equal()
		}, 20*time.Second, 50*time.Millisecond, "%s and %s converge", pair[0].name, pair[1].name)
	}
	require.Eventually(t, func() bool { return sizes(a).tombstones < darkPeak[0].tombstones/4 }, 20*time.Second, 50*time.Millisecond,
		"tombstones are collected once c has caught up")
	t.Logf("after: a %+v, b %+v, c %+v", sizes(a), sizes(b), sizes(c))
}

// lockedBuffer is a bytes.Buffer that goroutines may write at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
