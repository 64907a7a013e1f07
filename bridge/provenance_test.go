package bridge_test

import (
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
)

func TestParseProvenance(t *testing.T) {
	h := func(kv ...string) []kafka.Header {
		var hs []kafka.Header
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, kafka.Header{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return hs
	}
	for _, tc := range []struct {
		name    string
		headers []kafka.Header
		want    bridge.Provenance
		found   bool
		corrupt bool
	}{
		{name: "none", headers: h("trace", "x")},
		{name: "bridged once", found: true,
			headers: h("trace", "x", bridge.HeaderID, "a/orders/3/17", bridge.HeaderOrigin, "a",
				bridge.HeaderHops, "a,b", bridge.HeaderSource, "a/orders/3/17"),
			want: bridge.Provenance{ID: "a/orders/3/17", Origin: "a", Hops: []string{"a", "b"}, Cluster: "a",
				Topic: "orders", Partition: 3, Offset: 17}},
		{name: "cluster name with slashes", found: true,
			headers: h(bridge.HeaderSource, "us/east/1/orders.v2/0/9", bridge.HeaderHops, "us/east/1,eu"),
			want:    bridge.Provenance{Hops: []string{"us/east/1", "eu"}, Cluster: "us/east/1", Topic: "orders.v2", Offset: 9}},
		{name: "no source", headers: h(bridge.HeaderID, "x"), corrupt: true},
		{name: "negative offset", headers: h(bridge.HeaderSource, "a/t/0/-1"), corrupt: true},
		{name: "bad partition", headers: h(bridge.HeaderSource, "a/t/x/1"), corrupt: true},
		{name: "too few parts", headers: h(bridge.HeaderSource, "t/0/1"), corrupt: true},
		{name: "empty hop", headers: h(bridge.HeaderSource, "a/t/0/1", bridge.HeaderHops, "a,,b"), corrupt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, found, err := bridge.ParseProvenance(tc.headers)
			if tc.corrupt {
				require.ErrorIs(t, err, xregion.ErrCorrupt)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.found, found)
			require.Equal(t, tc.want, p)
		})
	}
}

// Headers come from another region: whatever they hold, parsing neither
// panics nor accepts what it cannot read back.
func FuzzParseProvenance(f *testing.F) {
	f.Add("a,b", "a/orders/3/17", "id")
	f.Add("", "//0/0", "")
	f.Add("x", "a/b/c/d/e/1/2", "\x00")
	f.Fuzz(func(t *testing.T, hops, src, id string) {
		p, found, err := bridge.ParseProvenance([]kafka.Header{
			{Key: bridge.HeaderHops, Value: []byte(hops)},
			{Key: bridge.HeaderSource, Value: []byte(src)},
			{Key: bridge.HeaderID, Value: []byte(id)},
		})
		if err != nil {
			require.ErrorIs(t, err, xregion.ErrCorrupt)
			return
		}
		require.True(t, found)
		require.GreaterOrEqual(t, p.Offset, int64(0))
		require.GreaterOrEqual(t, p.Partition, 0)
		require.NotEmpty(t, p.Cluster)
		require.NotEmpty(t, p.Topic)
	})
}
