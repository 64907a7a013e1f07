package crdt

import (
	"fmt"
	"strconv"
)

// Type names a CRDT type. Its value is the type tag of the encoding, so the
// numbers never change.
type Type uint8

// The CRDT types of this package.
const (
	TypeGCounter       Type = 1
	TypePNCounter      Type = 2
	TypeBoundedCounter Type = 3
	TypeLWWRegister    Type = 4
	TypeMVRegister     Type = 5
	TypeORSet          Type = 6
	TypeORMap          Type = 7
)

// String returns the type's name: "gcounter", "pncounter", "boundedcounter",
// "lwwregister", "mvregister", "orset" or "ormap".
func (t Type) String() string {
	switch t {
	case TypeGCounter:
		return "gcounter"
	case TypePNCounter:
		return "pncounter"
	case TypeBoundedCounter:
		return "boundedcounter"
	case TypeLWWRegister:
		return "lwwregister"
	case TypeMVRegister:
		return "mvregister"
	case TypeORSet:
		return "orset"
	case TypeORMap:
		return "ormap"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

func (t Type) valid() bool { return t >= TypeGCounter && t <= TypeORMap }

// State is a CRDT state of this package: GCounter, PNCounter,
// BoundedCounter, LWWRegister, MVRegister, ORSet or ORMap. The interface is
// closed: Encode, Decode, Merge and ORMap handle exactly these types. A
// pointer to one has its methods too, but is not a State they accept: they
// refuse it, and nil, with an *xregion.InvalidError.
//
// States are immutable values: Merge and every mutation return new states
// and never modify their receiver or arguments, so states can be shared
// between goroutines freely.
type State interface {
	// Type returns the state's CRDT type.
	Type() Type
	// appendBody appends the type-specific part of the encoding.
	appendBody(b []byte) []byte
}

// Merge returns the join of a and b, which must be of the same type (and,
// for PN counters, declared with the same limits): a *TypeMismatchError
// otherwise, and an *xregion.InvalidError for a nil state or a pointer to
// one. Like each type's own Merge it is commutative, associative and
// idempotent, and it modifies neither argument.
func Merge(a, b State) (State, error) {
	if err := check("crdt merge: local state", a); err != nil {
		return nil, err
	}
	if err := check("crdt merge: incoming state", b); err != nil {
		return nil, err
	}
	if ka, kb := kind(a), kind(b); ka != kb {
		return nil, &TypeMismatchError{Local: ka, Incoming: kb}
	}
	return mergeSame(a, b), nil
}

// mergeSame merges two states of one Type. PN counters with different
// limits are merged by widening (see PNCounter.Merge).
func mergeSame(a, b State) State {
	switch a := a.(type) {
	case GCounter:
		return a.Merge(b.(GCounter))
	case PNCounter:
		return a.Merge(b.(PNCounter))
	case BoundedCounter:
		return a.Merge(b.(BoundedCounter))
	case LWWRegister:
		return a.Merge(b.(LWWRegister))
	case MVRegister:
		return a.Merge(b.(MVRegister))
	case ORSet:
		return a.Merge(b.(ORSet))
	case ORMap:
		return a.Merge(b.(ORMap))
	}
	panic(fmt.Sprintf("crdt: unknown state type %T", a))
}

// check refuses what is not a state of this package's types: nil, or a
// pointer to a state, which the interface admits (a pointer has its value's
// methods) but which panics when nil and which no merge expects.
func check(what string, s State) error {
	switch s.(type) {
	case GCounter, PNCounter, BoundedCounter, LWWRegister, MVRegister, ORSet, ORMap:
		return nil
	case nil:
		return invalid(what, "nil; pass a state such as crdt.ORSet{}")
	}
	return invalid(what, "%T; pass the state itself, not a pointer to it", s)
}

// kind names what must agree for two states to merge: the type, and a PN
// counter's declared limits.
func kind(s State) string {
	if s == nil {
		return "nil"
	}
	if pn, ok := s.(PNCounter); ok {
		return fmt.Sprintf("pncounter(%d,%d)", pn.Precision(), pn.Scale())
	}
	return s.Type().String()
}

// zeroOf returns the empty state of type t: the bottom of its lattice.
func zeroOf(t Type) State {
	switch t {
	case TypeGCounter:
		return GCounter{}
	case TypePNCounter:
		return PNCounter{}
	case TypeBoundedCounter:
		return BoundedCounter{}
	case TypeLWWRegister:
		return LWWRegister{}
	case TypeMVRegister:
		return MVRegister{}
	case TypeORSet:
		return ORSet{}
	case TypeORMap:
		return ORMap{}
	}
	return nil
}
