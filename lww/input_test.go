package lww_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
)

// TestResolver_Zero: a Resolver not made by New has no clock to fold
// versions into; it refuses every record instead of panicking.
func TestResolver_Zero(t *testing.T) {
	in := put("v", ver(1, west), xregion.Version{})
	var zero lww.Resolver
	for name, r := range map[string]*lww.Resolver{"zero": &zero, "new(lww.Resolver)": new(lww.Resolver), "nil": nil} {
		t.Run(name, func(t *testing.T) {
			var (
				res xregion.Resolution
				err error
			)
			require.NotPanics(t, func() { res, err = r.Resolve(xregion.Record{}, in) })
			require.ErrorIs(t, err, xregion.ErrInvalid)
			var ie *xregion.InvalidError
			require.ErrorAs(t, err, &ie)
			require.ErrorContains(t, err, "lww.New")
			require.Zero(t, res)
		})
	}
}
