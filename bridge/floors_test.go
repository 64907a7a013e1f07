package bridge

import (
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
)

func TestMeta_RoundTrip(t *testing.T) {
	floors := []floor{{offset: 12, known: true}, noFloor, {offset: 0}, {offset: 99, known: false}}
	p := producer{id: 4711, epoch: 3}
	s := encodeMeta("xregion-b", p, []int{0, 1, 2, 3}, floors)
	require.Equal(t, "xr2 xregion-b p4711.3 0:12k 2:0u 3:99u", s)
	require.Equal(t, meta{p: p, floors: floors}, parseMeta(s, "xregion-b", 4))
	none := []floor{noFloor, noFloor, noFloor, noFloor}
	require.Equal(t, meta{p: noProducer, floors: none}, parseMeta(s, "xregion-c", 4),
		"metadata of another target cluster is ignored")
	require.Equal(t, meta{p: noProducer, floors: floors}, parseMeta("xr1 xregion-b 0:12k 2:0u 3:99u", "xregion-b", 4),
		"the version before producers is still read")
	require.Equal(t, meta{p: noProducer, floors: floors}, parseMeta(encodeMeta("xregion-b", noProducer, []int{0, 1, 2, 3}, floors), "xregion-b", 4))

	many := make([]floor, 1000)
	var all []int
	for i := range many {
		many[i], all = floor{offset: 1 << 40, known: true}, append(all, i)
	}
	s = encodeMeta("x", p, all, many)
	require.Equal(t, "xr2 x p4711.3", s, "floors left out past Kafka's metadata limit, the producer kept")
}

func FuzzParseMeta(f *testing.F) {
	f.Add("xr2 b p12.0 0:12k 2:0u")
	f.Add("xr1 b 0:12k 2:0u")
	f.Add("xr2 b p-1.-1 9:1k")
	f.Add("xr2 b p1.99999 0:-1k")
	f.Fuzz(func(t *testing.T, s string) {
		m := parseMeta(s, "b", 4)
		require.Len(t, m.floors, 4)
		for _, f := range m.floors {
			require.GreaterOrEqual(t, f.offset, int64(-1))
		}
		if m.p != noProducer {
			require.True(t, m.p.known())
			require.Equal(t, m, parseMeta(encodeMeta("b", m.p, []int{0, 1, 2, 3}, m.floors), "b", 4), "what parses encodes back to itself")
		}
	})
}

func FuzzSourceOffset(f *testing.F) {
	f.Add([]byte("a/orders/0/17"))
	f.Add([]byte("a/orders/0/99999999999999999999"))
	f.Fuzz(func(t *testing.T, v []byte) {
		prefix := []byte("a/orders/0/")
		off, ok := sourceOffset(v, prefix)
		if !ok {
			return
		}
		require.GreaterOrEqual(t, off, int64(0))
		s, err := parseSource(v)
		require.NoError(t, err, "what the fast path accepts, the full parser does")
		require.Equal(t, off, s.offset)
	})
}

func TestHops(t *testing.T) {
	require.True(t, hopsContain([]byte("a,b,c"), "b"))
	require.True(t, hopsContain([]byte("a"), "a"))
	require.False(t, hopsContain([]byte("ab,c"), "a"))
	require.False(t, hopsContain([]byte(""), "a"))
	require.True(t, hopsEndWith([]byte("x,a"), "a"))
	require.False(t, hopsEndWith([]byte("xa"), "a"))
}

// The hop list arrives from another region: whatever it holds, the fast
// matchers the data path uses agree with splitting it on commas.
func FuzzHops(f *testing.F) {
	f.Add([]byte("a,b,c"), "b")
	f.Add([]byte("ab,c"), "a")
	f.Add([]byte(",a,"), "a")
	f.Add([]byte(""), "a")
	f.Fuzz(func(t *testing.T, list []byte, name string) {
		if checkClusterName(name) != nil {
			return // no bridge names a cluster so
		}
		parts := strings.Split(string(list), ",")
		require.Equal(t, slices.Contains(parts, name), hopsContain(list, name), "contains %q in %q", name, list)
		require.Equal(t, parts[len(parts)-1] == name, hopsEndWith(list, name), "ends with %q in %q", name, list)
	})
}

// The key hash is Kafka's: the partition kafka-go's murmur2 balancer, a
// port of the Java producer's, picks for the same key.
func TestMurmur2(t *testing.T) {
	balancer := kafka.Murmur2Balancer{Consistent: true}
	parts := []int{0, 1, 2, 3, 4, 5, 6}
	for i := 0; i < 2000; i++ {
		key := []byte(strings.Repeat("k", i%13) + string(rune(i)))
		want := balancer.Balance(kafka.Message{Key: key}, parts...)
		require.Equal(t, want, KeyHash.targetPartition(0, key, false, len(parts)), "key %q", key)
	}
	// Vectors from Kafka's own tests (UtilsTest.testMurmur2).
	for k, v := range map[string]int32{"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, "abc": 479470107} {
		require.Equal(t, v, int32(murmur2([]byte(k))), k)
	}
	require.Equal(t, 3, KeyHash.targetPartition(7, nil, true, 4), "no key: the source partition modulo the count")
	require.Equal(t, 7, SamePartition.targetPartition(7, []byte("k"), false, 4))
}
