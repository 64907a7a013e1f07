package pghash_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/internal/pghash"
	"github.com/xregion/xregion/regiontest"
)

const fox = "The quick brown fox jumps over the lazy dog."

// vectors were computed by PostgreSQL 15.20 on x86-64 in a UTF8 database:
// SELECT hashtextextended(in, seed). The prefixes of fox reach every
// length of the last block, with and without whole blocks before it.
var vectors = []struct {
	in   string
	seed int64
	want int64
}{
	{fox[:0], 0, -6939563903564495251},
	{fox[:1], 0, -1338225982912146468},
	{fox[:2], 0, 5593687159563776749},
	{fox[:3], 0, -7897229297791927534},
	{fox[:4], 0, 1214481609633084541},
	{fox[:5], 0, -985326184270896746},
	{fox[:6], 0, 3470145380339167397},
	{fox[:7], 0, -2752675330521770124},
	{fox[:8], 0, -1544529330263215465},
	{fox[:9], 0, -3165377590426475634},
	{fox[:10], 0, 6613948839295992241},
	{fox[:11], 0, 2869438648668390509},
	{fox[:12], 0, -9210305663925663560},
	{fox[:13], 0, -3863872140344080773},
	{fox[:14], 0, -2703303883130605159},
	{fox[:15], 0, 130785500723762325},
	{fox[:16], 0, -7818762430148052278},
	{fox[:17], 0, 3451059601990827723},
	{fox[:18], 0, 1859349653040336744},
	{fox[:19], 0, 6377859067987231983},
	{fox[:20], 0, 1395817125874287870},
	{fox[:21], 0, 4382656982158088131},
	{fox[:22], 0, -8173415927686238050},
	{fox[:23], 0, -6349138520123274615},
	{fox[:24], 0, 8360766130984247540},
	{fox[:25], 0, -6568008242738964476},
	{fox[:26], 0, -8510399028364357311},
	{fox[:27], 0, -5983171337440081292},
	{fox[:28], 0, 4650743464175597606},
	{fox[:29], 0, 4922972945882926808},
	{fox[:30], 0, -2952746244513659538},
	{fox[:31], 0, 240566037469194709},
	{fox[:32], 0, 936837974110797635},
	{fox[:33], 0, -3200491468863373810},
	{fox[:34], 0, -6696201807748526001},
	{fox[:35], 0, -5603389817488540983},
	{fox[:36], 0, 5172465187460571644},
	{fox[:37], 0, -6341692122201812976},
	{fox[:38], 0, -1165991950917522782},
	{fox[:39], 0, 7590948603917656586},
	{fox[:40], 0, -4847668724781447815},
	{strings.Repeat("abc", 100), 0, -4148545150612580562},
	{strings.Repeat("x", 1000), 0, 8373529910559647588},
	{strings.Repeat("0123456789", 1000), 0, -7657008646164980412},
	{"éßжкл中文🙂", 0, 616178099747893521},
	{"中", 0, 4250127677792042977},
	{"🙂🙂🙂", 0, -6771412369193352099},
	{"\U0010FFFF", 0, 5552707043474078714},
	{"k1", 0, -8407625331169925676},
	{"k1", 1, -3106263782359105124},
	{"k1", -1, 7962162771769081130},
	{"k1", 42, 3458638950508001024},
	{"k1", 4294967296, -9076372630211069320},
	{"k1", 4294967295, 6425739783423605369},
	{"k1", 1311768467463790320, -5174351422530985078},
	{"", 1, -150071773020461347},
	{"", -1, -5142811166230430645},
	{"", 4294967296, 2274062085362124585},
	{"abcdefghijkl", 7, -9039814575907250350},
	{"abcdefghijklm", -9223372036854775808, -8758644972904818305},
	{"abcdefghijk", 9223372036854775807, 2145874302060842752},
	{"éßжкл中文🙂", 123456789, 8503887463501828943},
}

func TestBytesExtended(t *testing.T) {
	for _, v := range vectors {
		require.Equal(t, v.want, int64(pghash.BytesExtended([]byte(v.in), uint64(v.seed))), "hashtextextended(%q, %d)", v.in, v.seed)
	}
}

// TestBytesExtended_Server checks random texts and seeds against the
// server itself: lengths up to a few blocks and a few long ones, bytes
// from every UTF-8 width.
func TestBytesExtended_Server(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []rune("az09:- éßжкл中文🙂\U0010FFFF\u0080")
	var (
		texts []string
		seeds []int64
	)
	for i := range 2000 {
		n := rng.IntN(50)
		if i%100 == 0 {
			n = rng.IntN(5000)
		}
		r := make([]rune, n)
		for j := range r {
			r[j] = alphabet[rng.IntN(len(alphabet))]
		}
		seed := int64(0)
		if i%2 == 1 {
			seed = int64(rng.Uint64())
		}
		texts, seeds = append(texts, string(r)), append(seeds, seed)
	}
	rows, err := pool.Query(ctx, `SELECT hashtextextended(t COLLATE "C", s) FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS u(t, s, i) ORDER BY i`, texts, seeds)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Len(t, got, len(texts))
	for i, want := range got {
		require.Equal(t, want, int64(pghash.BytesExtended([]byte(texts[i]), uint64(seeds[i]))), "hashtextextended(%q, %d)", texts[i], seeds[i])
	}
}

func BenchmarkBytesExtended(b *testing.B) {
	key := []byte("customer-12-345")
	for b.Loop() {
		pghash.BytesExtended(key, 0)
	}
}
