package kv_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
	"github.com/xregion/xregion/store/memstore"
)

func TestTable_PutGetRemove(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()

		put := mustPut(t, a.kv, "orders", "po/1001", `{"total":"12.50"}`)
		require.Equal(t, "orders", put.Namespace)
		require.Equal(t, "po/1001", put.Key, "a key may hold the separator")
		require.Equal(t, xregion.Region("a"), put.Version.Region)
		require.True(t, put.Expires.IsZero(), "no TTL: never expires")

		got, err := a.kv.Get(ctx, "orders", "po/1001")
		require.NoError(t, err)
		require.Equal(t, put, got)
		require.True(t, contains(t, a.kv, "orders", "po/1001"))

		_, err = a.kv.Get(ctx, "invoices", "po/1001")
		require.ErrorIs(t, err, xregion.ErrNotFound, "namespaces do not share keys")
		require.False(t, contains(t, a.kv, "invoices", "po/1001"))

		next := mustPut(t, a.kv, "orders", "po/1001", `{"total":"13.00"}`)
		require.True(t, put.Version.Less(next.Version))
		require.Equal(t, put.Version, raw(t, a, "orders", "po/1001").Base, "a Put writes on what it read")

		require.NoError(t, a.kv.Remove(ctx, "orders", "po/1001"))
		_, err = a.kv.Get(ctx, "orders", "po/1001")
		require.ErrorIs(t, err, xregion.ErrNotFound)
		tomb := raw(t, a, "orders", "po/1001")
		require.True(t, tomb.Tombstone)
		require.Equal(t, next.Version, tomb.Base)

		require.NoError(t, a.kv.Remove(ctx, "orders", "po/1001"), "removing nothing is no error")
		require.NoError(t, a.kv.Remove(ctx, "orders", "never"))
		require.Equal(t, tomb, raw(t, a, "orders", "po/1001"), "and writes nothing")
		require.Zero(t, raw(t, a, "orders", "never"))

		again := mustPut(t, a.kv, "orders", "po/1001", "back")
		require.Equal(t, tomb.Version, raw(t, a, "orders", "po/1001").Base)
		require.Equal(t, []byte("back"), again.Value)
		require.Empty(t, ledger(t, a), "a region's own writes never conflict")
	})
}

// TestTable_TTL: an entry expires at its write's HLC time plus the TTL, to
// the nanosecond, and a write after that is a new entry.
func TestTable_TTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()
		e := mustPut(t, a.kv, "sessions", "s1", "token", kv.TTL(10*time.Second))
		require.Equal(t, time.Unix(0, e.Version.Time.WallTime+int64(10*time.Second)).UTC(), e.Expires)

		for _, step := range []struct {
			at   time.Duration // after the write
			live bool
		}{
			{0, true},
			{9*time.Second + 999*time.Millisecond, true},
			{10*time.Second - time.Nanosecond, true},
			{10 * time.Second, false}, // at the expiry instant
			{time.Hour, false},
		} {
			a.wall.Set(e.Version.Time.GoTime().Add(step.at))
			require.Equal(t, step.live, contains(t, a.kv, "sessions", "s1"), "at +%s", step.at)
		}
		_, err := a.kv.Get(ctx, "sessions", "s1")
		require.ErrorIs(t, err, xregion.ErrNotFound)

		// A write after the expiry is a new entry, with its own version and
		// expiry; IfAbsent takes an expired key as absent.
		renewed := mustPut(t, a.kv, "sessions", "s1", "new", kv.TTL(time.Minute), kv.IfAbsent())
		require.True(t, e.Version.Less(renewed.Version))
		require.Equal(t, renewed.Version.Time.GoTime().Add(time.Minute), renewed.Expires)
		got, err := a.kv.Get(ctx, "sessions", "s1")
		require.NoError(t, err)
		require.Equal(t, "new", string(got.Value))

		// A Put without TTL replaces it with an entry that does not expire.
		mustPut(t, a.kv, "sessions", "s1", "forever")
		advance(24*time.Hour, a)
		require.True(t, contains(t, a.kv, "sessions", "s1"))
	})
}

func TestTable_Conditions(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()

		first := mustPut(t, a.kv, "ns", "k", "1", kv.IfAbsent())
		_, err := a.kv.Put(ctx, "ns", "k", []byte("2"), kv.IfAbsent())
		require.ErrorIs(t, err, kv.ErrExists)

		second := mustPut(t, a.kv, "ns", "k", "2", kv.IfMatch(first.Version))
		_, err = a.kv.Put(ctx, "ns", "k", []byte("3"), kv.IfMatch(first.Version))
		var ce *kv.ConflictError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, first.Version, ce.Read)
		require.Equal(t, second.Version, ce.Found)

		require.NoError(t, a.kv.Remove(ctx, "ns", "k"))
		_, err = a.kv.Put(ctx, "ns", "k", []byte("3"), kv.IfMatch(second.Version))
		require.ErrorIs(t, err, kv.ErrConflict, "a removed entry matches no version")
		mustPut(t, a.kv, "ns", "k", "3", kv.IfAbsent())
	})
}

// TestTable_ConcurrentWriters: writers of one region, in one process or in
// several (on PostgreSQL, separate store values and clocks on the same
// database), never overwrite a version they did not read: of racing
// IfAbsent writes exactly one succeeds, and IfMatch increments lose none.
func TestTable_ConcurrentWriters(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()
		procs := []*kv.Table{a.kv, otherProcess(t, a)}

		const writers = 8
		var wg sync.WaitGroup
		wins := make(chan int, writers)
		for i := range writers {
			wg.Go(func() {
				_, err := procs[i%2].Put(ctx, "once", "k", []byte{byte(i)}, kv.IfAbsent())
				if err == nil {
					wins <- i
				} else if !errors.Is(err, kv.ErrExists) {
					t.Errorf("writer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		close(wins)
		require.Len(t, wins, 1, "exactly one IfAbsent writer succeeds")

		const increments = 10
		for i := range writers {
			wg.Go(func() {
				tb := procs[i%2]
				for done := 0; done < increments; {
					var (
						n    uint64
						opts = []kv.WriteOption{kv.IfAbsent()}
					)
					if e, err := tb.Get(ctx, "count", "k"); err == nil {
						n, opts = binary.BigEndian.Uint64(e.Value), []kv.WriteOption{kv.IfMatch(e.Version)}
					} else if !errors.Is(err, xregion.ErrNotFound) {
						t.Error(err)
						return
					}
					_, err := tb.Put(ctx, "count", "k", binary.BigEndian.AppendUint64(nil, n+1), opts...)
					switch {
					case err == nil:
						done++
					case !errors.Is(err, kv.ErrConflict) && !errors.Is(err, kv.ErrExists):
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		e, err := a.kv.Get(ctx, "count", "k")
		require.NoError(t, err)
		require.Equal(t, uint64(writers*increments), binary.BigEndian.Uint64(e.Value), "no increment lost")
		require.Empty(t, ledger(t, a), "no write replaced one it had not read")
	})
}

// TestTable_Validation: bad input is refused before anything is written,
// with an *xregion.InvalidError that says what would be right.
func TestTable_Validation(t *testing.T) {
	a := memRegions(t, "a")[0]
	ctx := t.Context()
	for _, c := range []struct {
		name    string
		ns, key string
		value   []byte
		opts    []kv.WriteOption
		want    string
	}{
		{"empty namespace", "", "k", nil, nil, "namespace"},
		{"separator in namespace", "a/b", "k", nil, nil, `contains "/"`},
		{"long namespace", strings.Repeat("n", kv.MaxNamespaceLen+1), "k", nil, nil, "the limit is 64"},
		{"NUL in namespace", "a\x00", "k", nil, nil, "NUL"},
		{"bad UTF-8 key", "ns", "\xff", nil, nil, "UTF-8"},
		{"empty key", "ns", "", nil, nil, "key"},
		{"long key", "ns", strings.Repeat("k", kv.MaxKeyLen+1), nil, nil, "the limit is 959"},
		{"long value", "ns", "k", make([]byte, kv.MaxValueLen+1), nil, "value"},
		{"zero TTL", "ns", "k", nil, []kv.WriteOption{kv.TTL(0)}, "positive"},
		{"negative TTL", "ns", "k", nil, []kv.WriteOption{kv.TTL(-time.Second)}, "positive"},
		{"both conditions", "ns", "k", nil, []kv.WriteOption{kv.IfAbsent(), kv.IfMatch(xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: "a"})}, "together"},
		{"zero IfMatch", "ns", "k", nil, []kv.WriteOption{kv.IfMatch(xregion.Version{})}, "zero timestamp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.kv.Put(ctx, c.ns, c.key, c.value, c.opts...)
			var ie *xregion.InvalidError
			require.ErrorAs(t, err, &ie)
			require.ErrorContains(t, err, c.want)
			if c.opts == nil && c.value == nil {
				_, err = a.kv.Get(ctx, c.ns, c.key)
				require.ErrorIs(t, err, xregion.ErrInvalid)
				require.ErrorIs(t, a.kv.Remove(ctx, c.ns, c.key), xregion.ErrInvalid)
			}
		})
	}
	mustPut(t, a.kv, strings.Repeat("n", kv.MaxNamespaceLen), strings.Repeat("k", kv.MaxKeyLen), string(make([]byte, kv.MaxValueLen)), kv.TTL(time.Duration(math.MaxInt64)))
	require.Empty(t, ledger(t, a))
}

func TestNew_Validation(t *testing.T) {
	ctx := t.Context()
	st, err := memstore.New("a")
	require.NoError(t, err)
	clock := newClock(t, xregion.SystemClock{})
	inner := newLWW(t, clock)
	for _, c := range []struct {
		name string
		new  func() (*kv.Table, error)
		want string
	}{
		{"nil store", func() (*kv.Table, error) { return kv.New(ctx, nil, clock, table, inner) }, "store"},
		{"nil clock", func() (*kv.Table, error) { return kv.New(ctx, st, nil, table, inner) }, "clock"},
		{"nil inner", func() (*kv.Table, error) { return kv.New(ctx, st, clock, table, nil) }, "inner resolver"},
		{"bad table", func() (*kv.Table, error) { return kv.New(ctx, st, clock, "Bad-Name", inner) }, "table name"},
		{"nil writer", func() (*kv.Table, error) { return kv.New(ctx, st, clock, table, inner, kv.WithWriter(nil)) }, "writer"},
		{"nil writer func", func() (*kv.Table, error) {
			return kv.New(ctx, st, clock, table, inner, kv.WithWriter(kv.WriterFunc(nil)))
		}, "writer"},
		{"negative grace", func() (*kv.Table, error) { return kv.New(ctx, st, clock, table, inner, kv.WithSweepGrace(-1)) }, "sweep grace"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb, err := c.new()
			require.Nil(t, tb)
			require.ErrorIs(t, err, xregion.ErrInvalid)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// TestTable_NotKept: a write the store applied without the Table's
// Resolver (the table declared again with another) is reported, since its
// condition was not checked; so is one the resolver dropped.
func TestTable_NotKept(t *testing.T) {
	a := memRegions(t, "a")[0]
	ctx := t.Context()
	require.NoError(t, a.store.DefineTable(ctx, table, newLWW(t, a.clock)))
	_, err := a.kv.Put(ctx, "ns", "k", []byte("v"))
	require.ErrorIs(t, err, kv.ErrNotKept)
	require.ErrorContains(t, err, "declared again")

	drop := xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
		return xregion.Resolution{}, nil
	})
	b := memRegions(t, "b")[0]
	tb, err := kv.New(ctx, b.store, b.clock, "dropping", drop)
	require.NoError(t, err)
	_, err = tb.Put(ctx, "ns", "k", []byte("v"))
	require.ErrorIs(t, err, kv.ErrNotKept)
	require.ErrorContains(t, err, "dropped")
}

// TestTable_Writer: writes go through the Writer given, stamped, to the
// Table's table.
func TestTable_Writer(t *testing.T) {
	a := memRegions(t, "a")[0]
	var got []xregion.Write
	w := kv.WriterFunc(func(ctx context.Context, ws ...xregion.Write) error {
		got = append(got, ws...)
		_, err := a.store.Apply(ctx, xregion.Batch{Writes: ws})
		return err
	})
	tb := newTable(t, a, kv.WithWriter(w))
	e := mustPut(t, tb, "ns", "k", "v")
	require.Len(t, got, 1)
	require.Equal(t, table, got[0].Table)
	require.Equal(t, e.Version, got[0].Record.Version)

	fail := errors.New("link down")
	tb = newTable(t, a, kv.WithWriter(kv.WriterFunc(func(context.Context, ...xregion.Write) error { return fail })))
	_, err := tb.Put(t.Context(), "ns", "k", []byte("v"))
	require.ErrorIs(t, err, fail)
}
