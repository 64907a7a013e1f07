package pgstore_test

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
)

func wantKeyDigests(records []xregion.Record) []xregion.KeyDigest {
	var out []xregion.KeyDigest
	for _, r := range records {
		out = append(out, xregion.KeyDigest{Key: r.Key, Version: r.Version, Hash: xregion.RowHash(r)})
	}
	slices.SortFunc(out, func(a, b xregion.KeyDigest) int {
		return cmp.Or(cmp.Compare(xregion.KeyHash(a.Key), xregion.KeyHash(b.Key)), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// randomRecords returns n records with distinct keys, drawn to reach the
// corners of the hash texts: keys of one to four bytes a character and
// holding ':', nil, empty and binary values, tombstones, and numbers up to
// their limits.
func randomRecords(rng *rand.Rand, n int) []xregion.Record {
	alphabet := []rune("az09:-_ éßжкл中文🙂\U0010FFFF")
	regions := []xregion.Region{"a", "b", "eu-west-1", "9"}
	seen := map[string]bool{}
	var out []xregion.Record
	for len(out) < n {
		key := make([]rune, 1+rng.IntN(40))
		for i := range key {
			key[i] = alphabet[rng.IntN(len(alphabet))]
		}
		r := xregion.Record{
			Key: string(key),
			Version: xregion.Version{Time: xregion.Timestamp{
				WallTime: []int64{1, rng.Int64N(math.MaxInt64) + 1, math.MaxInt64}[rng.IntN(3)],
				Logical:  []int32{0, rng.Int32(), math.MaxInt32}[rng.IntN(3)],
			}, Region: regions[rng.IntN(len(regions))]},
			Epoch: []uint64{0, rng.Uint64N(1 << 63), math.MaxInt64}[rng.IntN(3)],
		}
		if rng.IntN(3) == 0 { // a base, which RowHash leaves out
			r.Base = xregion.Version{Time: xregion.Timestamp{WallTime: r.Version.Time.WallTime - 1, Logical: r.Version.Time.Logical}, Region: "b"}
			if r.Base.Time.WallTime == 0 {
				r.Base = xregion.Version{}
			}
		}
		switch rng.IntN(5) {
		case 0:
			r.Tombstone = true
		case 1:
			r.Value = []byte{}
		case 2:
			r.Value = make([]byte, rng.IntN(3000))
			for i := range r.Value {
				r.Value[i] = byte(rng.UintN(256))
			}
		case 3:
			r.Value = []byte(strings.Repeat("v", 1+rng.IntN(10000))) // compressed in TOAST
		}
		if r.Validate() == nil && !seen[r.Key] {
			seen[r.Key] = true
			out = append(out, r)
		}
	}
	return out
}

// randomRanges returns sorted, disjoint ranges with bounds drawn at random
// and at the corners: 0, the top, and either side of 2⁶³, where khash
// changes sign.
func randomRanges(rng *rand.Rand) []xregion.KeyRange {
	points := []uint64{0, 1<<63 - 1, 1 << 63, math.MaxUint64}
	for range 1 + rng.IntN(200) {
		points = append(points, rng.Uint64())
	}
	slices.Sort(points)
	points = slices.Compact(points)
	var out []xregion.KeyRange
	for i := 0; i+1 < len(points); i += 2 {
		r := xregion.KeyRange{Lo: points[i], Hi: points[i+1]}
		if rng.IntN(4) == 0 {
			r.Hi = r.Lo // a single hash
		}
		out = append(out, r)
	}
	return out
}

// TestStore_Digests_MatchGo checks the hashes PostgreSQL computes in the
// generated columns against xregion.KeyHash and xregion.RowHash, on random
// records that reach the corners of the hashed texts.
func TestStore_Digests_MatchGo(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, regiontest.Database(t), "a")
	require.NoError(t, s.DefineTable(ctx, "t", takeIncoming))
	rng := rand.New(rand.NewPCG(1, 2))
	records := randomRecords(rng, 3000)
	for batch := range slices.Chunk(records, 700) {
		var b xregion.Batch
		for _, r := range batch {
			b.Writes = append(b.Writes, xregion.Write{Table: "t", Record: r})
		}
		_, err := s.Apply(ctx, b)
		require.NoError(t, err)
	}

	got, err := s.KeyDigests(ctx, "t", []xregion.KeyRange{xregion.AllKeys})
	require.NoError(t, err)
	want := wantKeyDigests(records)
	for i := range want {
		require.Equal(t, want[i], got[i], "key %q", want[i].Key)
	}
	require.Len(t, got, len(want))

	for name, ranges := range map[string][]xregion.KeyRange{
		"all":      {xregion.AllKeys},
		"split 7":  xregion.AllKeys.Split(7),
		"split 4k": xregion.AllKeys.Split(4096),
		"random":   randomRanges(rng),
		"random 2": randomRanges(rng),
	} {
		got, err := s.Digests(ctx, "t", ranges)
		require.NoError(t, err)
		require.Equal(t, xregion.Digest(records, ranges), got, name)
	}

	keys := []string{records[7].Key, "never written", records[3].Key, records[7].Key}
	recs, err := s.Records(ctx, "t", append(keys, "", "nul\x00", string([]byte{0xff})))
	require.NoError(t, err, "keys that cannot be stored are left out")
	require.Len(t, recs, 3)
	for i, want := range []xregion.Record{records[7], records[3], records[7]} {
		require.True(t, want.Equal(recs[i]), "record %d: want %+v, got %+v", i, want, recs[i])
	}
	if len(recs[0].Value) > 0 {
		require.NotSame(t, &recs[0].Value[0], &recs[2].Value[0], "a key asked for twice shares no memory")
	}
}

// TestStore_KeyDigests_TooMany checks that ranges holding more than
// MaxChangeLimit records are refused, and that a range just within it is
// not.
func TestStore_KeyDigests_TooMany(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,001 records")
	}
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	require.NoError(t, s.DefineTable(ctx, "t", takeIncoming))
	_, err := pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{s.Schema(), "t"}.Sanitize()+`
		(key, value, wall, logical, origin, base_wall, base_logical, base_origin, epoch, tombstone)
		SELECT 'k' || i, 'v', 1, 0, 'a', 0, 0, '', 0, false FROM generate_series(1, $1) AS i`, xregion.MaxChangeLimit+1)
	require.NoError(t, err)

	_, err = s.KeyDigests(ctx, "t", []xregion.KeyRange{xregion.AllKeys})
	require.ErrorIs(t, err, xregion.ErrInvalid)
	require.ErrorContains(t, err, "narrower ranges")

	halves := xregion.AllKeys.Split(2)
	got, err := s.KeyDigests(ctx, "t", halves[:1])
	require.NoError(t, err)
	d, err := s.Digests(ctx, "t", halves)
	require.NoError(t, err)
	require.EqualValues(t, d[0].Count, len(got))
	require.EqualValues(t, xregion.MaxChangeLimit+1, d[0].Count+d[1].Count)
}

// TestStore_DefineTable_AddsHashColumns opens tables as pgstore created
// them before it had the hash columns, and while they were md5: DefineTable
// adds them, or computes them again, for the rows already there, indexes
// them, and once they are right it takes no lock on the table, so it does
// not wait for a transaction writing to it.
func TestStore_DefineTable_AddsHashColumns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hashes string // the hash columns as created then, and their index
	}{
		{name: "none"},
		{name: "md5", hashes: `,
			khash bigint GENERATED ALWAYS AS
				((('x' || left(md5(key), 16))::bit(64)::bigint) # (-9223372036854775808)) STORED,
			rhash bigint GENERATED ALWAYS AS (('x' || left(md5(
				octet_length(key)::text || ':' || key || ':' || wall::text || ':' || logical::text || ':' ||
				origin || ':' || epoch::text || ':' || tombstone::text || ':' ||
				coalesce(md5(nullif(value, ''::bytea)), '-')), 16))::bit(64)::bigint) STORED`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			pool := regiontest.Database(t)
			s := newStore(t, pool, "a")
			table := pgx.Identifier{s.Schema(), "t"}.Sanitize()
			_, err := pool.Exec(ctx, `CREATE TABLE `+table+` (
					key text COLLATE "C" PRIMARY KEY,
					`+pgstore.RecordColumnDefs+tc.hashes+`) WITH (fillfactor = 90)`)
			require.NoError(t, err)
			if tc.hashes != "" {
				_, err := pool.Exec(ctx, `CREATE INDEX _khash_t ON `+table+` (khash) INCLUDE (rhash)`)
				require.NoError(t, err)
			}
			records := randomRecords(rand.New(rand.NewPCG(3, 4)), 200)
			for _, r := range records {
				_, err := pool.Exec(ctx, `INSERT INTO `+table+` (key, value, wall, logical, origin, base_wall, base_logical, base_origin, epoch, tombstone)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					r.Key, r.Value, r.Version.Time.WallTime, r.Version.Time.Logical, string(r.Version.Region),
					r.Base.Time.WallTime, r.Base.Time.Logical, string(r.Base.Region), int64(r.Epoch), r.Tombstone)
				require.NoError(t, err)
			}

			require.NoError(t, s.DefineTable(ctx, "t", takeIncoming))
			ranges := xregion.AllKeys.Split(16)
			got, err := s.Digests(ctx, "t", ranges)
			require.NoError(t, err)
			require.Equal(t, xregion.Digest(records, ranges), got)
			kds, err := s.KeyDigests(ctx, "t", []xregion.KeyRange{xregion.AllKeys})
			require.NoError(t, err)
			require.Equal(t, wantKeyDigests(records), kds)
			var indexes int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 't'
				AND indexdef LIKE '%(khash) INCLUDE (rhash)'`, s.Schema()).Scan(&indexes))
			require.Equal(t, 1, indexes, "the hash columns are indexed")

			writer, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer writer.Rollback(ctx)
			_, err = writer.Exec(ctx, `UPDATE `+table+` SET logical = logical WHERE key = $1`, records[0].Key)
			require.NoError(t, err)
			again, err := pgstore.New(ctx, pool, "a", pgstore.WithSchema(s.Schema()))
			require.NoError(t, err)
			quick, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			require.NoError(t, again.DefineTable(quick, "t", takeIncoming), "DefineTable must not wait for the open writer")
		})
	}
}

// TestStore_DefineTable_LongNames defines two tables whose names, 63 bytes
// long, differ only at the end: each gets an index of its own, though the
// index names must be cut to fit PostgreSQL's 63 bytes.
func TestStore_DefineTable_LongNames(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	s := newStore(t, pool, "a")
	names := []string{strings.Repeat("t", 62) + "1", strings.Repeat("t", 62) + "2"}
	for _, name := range names {
		require.NoError(t, s.DefineTable(ctx, name, takeIncoming))
		_, err := s.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: name, Record: xregion.Record{
			Key: name, Value: []byte("v"), Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: "a"}}}}})
		require.NoError(t, err)
	}
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%(khash) INCLUDE (rhash)'`, s.Schema())
	require.NoError(t, err)
	indexed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.ElementsMatch(t, names, indexed)
	for _, name := range names {
		d, err := s.Digests(ctx, name, []xregion.KeyRange{xregion.AllKeys})
		require.NoError(t, err)
		require.EqualValues(t, 1, d[0].Count, name)
	}
}
