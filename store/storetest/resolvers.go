package storetest

import (
	"errors"
	"fmt"

	"github.com/xregion/xregion"
)

// The suite brings its own resolvers: it tests what a Store does with a
// Resolution, so it must know exactly what each Resolution is, and it must
// not depend on the lww or crdt packages (which are tested on memstore).

// lww keeps the write with the higher version; an equal version is the same
// write again and changes nothing. A write that loses while neither writer
// had seen the other's version, from two different regions, is reported
// Lost.
var lww = xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
	if local.Version.IsZero() {
		return xregion.Resolution{Record: incoming, Changed: true}, nil
	}
	concurrent := incoming.Base.Less(local.Version) && local.Base.Less(incoming.Version) &&
		incoming.Version.Region != local.Version.Region
	switch c := incoming.Version.Compare(local.Version); {
	case c > 0:
		res := xregion.Resolution{Record: incoming, Changed: true}
		if concurrent {
			res.Lost = &local
		}
		return res, nil
	case c < 0:
		var res xregion.Resolution
		if concurrent {
			res.Lost = &incoming
		}
		return res, nil
	}
	return xregion.Resolution{}, nil
})

// appendValues always changes the record, appending the incoming value to
// the stored one. It is not idempotent on purpose: a store that applied a
// write twice, or resolved a write against a stale record, shows it in the
// value.
var appendValues = xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
	out := incoming
	out.Value = append(append([]byte{}, local.Value...), incoming.Value...)
	return xregion.Resolution{Record: out, Changed: true}, nil
})

// errRefused is what refusing returns, so the suite can check that Apply
// passes a Resolver's error on.
var errRefused = errors.New("storetest: resolver refused the record")

// refusing is lww, except that it refuses any record whose value is
// "refuse".
var refusing = xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
	if string(incoming.Value) == "refuse" {
		return xregion.Resolution{}, fmt.Errorf("record %q: %w", incoming.Key, errRefused)
	}
	return lww(local, incoming)
})

// replace stores every incoming record as it is, whatever the key holds.
var replace = xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
	return xregion.Resolution{Record: incoming, Changed: true}, nil
})
