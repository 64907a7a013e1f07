package crdt

import (
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// The property tests run random histories: three regions mutate their own
// copy of a state, exchange full states, and receive each other's deltas
// in any order, and the states are checked against naive reference
// implementations that know nothing of dots, contexts or merges.
//
// A reference sees a history as a list of events (at most 64, so that a set
// of events is a bitmask). Each region knows a set of events: its own, and
// those it received. A full state carries everything its sender knew; a
// delta carries its event (and, for counters, whose deltas hold running
// totals, every earlier event of the same total). What a region holds
// depends only on the set of events it knows, and that is what the
// references compute.

const (
	ra xregion.Region = "ap-south-1" // regions sort by name: ra < rb < rc
	rb xregion.Region = "eu-west-1"
	rc xregion.Region = "us-east-1"
)

var regions = [3]xregion.Region{ra, rb, rc}

// maxEvents is the most events one history makes: a set of events is a
// uint64.
const maxEvents = 64

// historySeeds runs f on n histories, each with its own deterministic seed;
// a failure names the seed that made it.
func historySeeds(t *testing.T, n int, f func(t *testing.T, rng *rand.Rand)) {
	t.Helper()
	if testing.Short() {
		n /= 10
	}
	for seed := range uint64(n) {
		func() {
			defer func() {
				if t.Failed() {
					t.Logf("history with seed %d failed", seed)
				}
			}()
			f(t, rand.New(rand.NewPCG(seed, 0x5eed)))
		}()
	}
}

// event is one mutation, as the references see it.
type event struct {
	region int
	op     string
	elem   string            // the element, value or field name it concerns
	n      uint64            // an amount
	obs    map[string]uint64 // per element: the events it observed (and so removes)
	// implies is what a region receiving the event's delta alone learns:
	// the event itself, and for running totals the earlier events of the
	// same total.
	implies uint64
	delta   State
	value   State    // ORMap: the field's value the update wrote
	adds    []string // ORSet: the elements it adds
	deps    uint64   // what its region knew before it
	amount  *apd.Decimal
}

// sim is a history in progress: three regions' states and what each knows.
type sim[T State] struct {
	t      *testing.T
	rng    *rand.Rand
	merge  func(T, T) T
	state  [3]T
	know   [3]uint64
	events []event
	pool   []T // states met along the way, for the law checks

	// Indexes over events, kept as events are added, so that the
	// references stay naive but fast.
	masks map[string]uint64  // by op+"|"+elem (and op+"|*"): the events
	obsBy map[string][]obsOf // by elem: the events that observed something of it
}

type obsOf struct {
	event uint64 // the event's bit
	obs   uint64 // what it observed
}

func newSim[T State](t *testing.T, rng *rand.Rand, merge func(T, T) T, start T) *sim[T] {
	s := &sim[T]{t: t, rng: rng, merge: merge, masks: map[string]uint64{}, obsBy: map[string][]obsOf{}}
	for i := range s.state {
		s.state[i] = start
	}
	return s
}

func (s *sim[T]) full() bool { return len(s.events) >= maxEvents }

// mutate lets f make a mutation of region r's state and describe it as an
// event (with a nil delta if the mutation was refused), then records the
// event and applies its delta at r.
func (s *sim[T]) mutate(r int, f func(st T) event) {
	before := enc(s.state[r])
	e := f(s.state[r])
	same(s.t, before, enc(s.state[r]), "a mutation must not modify its receiver")
	if e.delta == nil {
		return
	}
	e.region = r
	e.deps = s.know[r]
	i := len(s.events)
	e.implies |= 1 << i
	s.events = append(s.events, e)
	bit := uint64(1) << i
	s.masks[e.op+"|"+e.elem] |= bit
	s.masks[e.op+"|*"] |= bit
	for _, x := range e.adds {
		s.masks["adds|"+x] |= bit
	}
	for x, m := range e.obs {
		s.obsBy[x] = append(s.obsBy[x], obsOf{bit, m})
	}
	s.state[r] = s.merge(s.state[r], e.delta.(T))
	s.know[r] |= 1 << i
	if s.rng.IntN(4) == 0 {
		s.pool = append(s.pool, e.delta.(T))
	}
}

// exchange does something other than a mutation: a full-state sync, a
// delta delivered alone, an encode/decode round trip. It reports the region
// whose state changed.
func (s *sim[T]) exchange() int {
	x, y := s.rng.IntN(3), s.rng.IntN(3)
	switch k := s.rng.IntN(10); {
	case k < 6 || len(s.events) == 0:
		// y receives x's full state.
		sx := enc(s.state[x])
		s.state[y] = s.merge(s.state[y], s.state[x])
		same(s.t, sx, enc(s.state[x]), "merge must not modify its argument")
		s.know[y] |= s.know[x]
	case k < 9:
		// y receives the delta of a past event, in whatever order.
		e := s.events[s.rng.IntN(len(s.events))]
		s.state[y] = s.merge(s.state[y], e.delta.(T))
		s.know[y] |= e.implies
	default:
		// y's state crosses the wire: it must come back as it was.
		b := encoded(s.state[y])
		got, err := Decode(b)
		if err != nil {
			require.NoError(s.t, err)
		}
		same(s.t, string(b), enc(got), "decode then encode must give the same bytes")
		s.state[y] = got.(T)
	}
	if s.rng.IntN(3) == 0 {
		s.pool = append(s.pool, s.state[y])
	}
	return y
}

// step returns -1 when the caller should make a mutation (the history is
// not full and the dice say so), or else does an exchange and returns the
// region it changed.
func (s *sim[T]) step() int {
	if !s.full() && s.rng.IntN(10) < 6 {
		return -1
	}
	return s.exchange()
}

// run makes a history of the given number of steps: mutate makes a
// mutation at region r (through s.mutate), check compares region r with the
// reference. At the end all regions converge and are checked once more.
func (s *sim[T]) run(steps int, mutate func(r int), check func(r int)) {
	for range steps {
		r := s.step()
		if r < 0 {
			r = s.rng.IntN(3)
			mutate(r)
		}
		check(r)
	}
	s.converge()
	for r := range 3 {
		check(r)
	}
}

// converge syncs all regions with each other, after which all must hold
// the same state and know every event.
func (s *sim[T]) converge() {
	for _, x := range []int{0, 1, 2, 0, 1} {
		y := (x + 1) % 3
		s.state[y] = s.merge(s.state[y], s.state[x])
		s.know[y] |= s.know[x]
	}
	for i := 1; i < 3; i++ {
		same(s.t, enc(s.state[0]), enc(s.state[i]), "regions that know the same events hold the same state")
	}
	s.pool = append(s.pool, s.state[0])
}

// live returns, among the events of mask that known holds, those that no
// event known had observed with respect to elem.
func (s *sim[T]) live(known, mask uint64, elem string) uint64 {
	var dead uint64
	for _, o := range s.obsBy[elem] {
		if known&o.event != 0 {
			dead |= o.obs
		}
	}
	return known & mask &^ dead
}

// of returns the events whose op is one of ops and whose elem is elem (any
// elem if elem is "*").
func (s *sim[T]) of(elem string, ops ...string) uint64 {
	var m uint64
	for _, op := range ops {
		m |= s.masks[op+"|"+elem]
	}
	return m
}

// priorOf returns the events of region r with op op and elem elem made so
// far: what a running total carries.
func (s *sim[T]) priorOf(r int, op, elem string) uint64 {
	var m uint64
	for k := s.masks[op+"|"+elem]; k != 0; k &= k - 1 {
		if i := bits.TrailingZeros64(k); s.events[i].region == r {
			m |= 1 << i
		}
	}
	return m
}

func enc(s State) string { return string(encoded(s)) }

// same fails the test unless got == want. It costs nothing when they are
// equal, which thousands of histories need: require's bookkeeping
// (t.Helper) would dominate their run time.
func same[V comparable](t *testing.T, want, got V, msgAndArgs ...any) {
	if want != got {
		t.Helper()
		require.Equal(t, want, got, msgAndArgs...)
	}
}

// checkLaws checks the join laws on states from the pool: commutative,
// associative, idempotent; and that merging modifies neither argument.
func checkLaws[T State](t *testing.T, rng *rand.Rand, pool []T, merge func(T, T) T, triples int) {
	t.Helper()
	if len(pool) == 0 {
		return
	}
	pick := func() T { return pool[rng.IntN(len(pool))] }
	for range triples {
		x, y, z := pick(), pick(), pick()
		ex, ey := enc(x), enc(y)
		xy := merge(x, y)
		if enc(xy) != enc(merge(y, x)) {
			t.Fatalf("merge is not commutative\nx=%x\ny=%x", ex, ey)
		}
		if enc(merge(xy, z)) != enc(merge(x, merge(y, z))) {
			t.Fatalf("merge is not associative\nx=%x\ny=%x\nz=%x", ex, ey, enc(z))
		}
		if enc(merge(x, x)) != ex {
			t.Fatalf("merge is not idempotent\nx=%x", ex)
		}
		if enc(merge(xy, x)) != enc(xy) {
			t.Fatalf("a merge does not include its arguments\nx=%x\ny=%x", ex, ey)
		}
		if enc(x) != ex || enc(y) != ey {
			t.Fatalf("merge modified its arguments")
		}
		got, err := Decode([]byte(ex))
		if err != nil || enc(got) != ex {
			t.Fatalf("decode then encode does not give the same bytes: %v\nx=%x", err, ex)
		}
	}
}
