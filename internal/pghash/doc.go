// Package pghash computes in Go the hashes PostgreSQL computes with
// hashtextextended and the other "extended" hash functions, bit for bit,
// so that a hash taken by the server (in a generated column, say) can be
// checked against one taken by a client without asking the server.
//
//	h := pghash.BytesExtended([]byte("k1"), 0) // = uint64(hashtextextended('k1', 0))
//
// The function is hash_bytes_extended of PostgreSQL's src/common/hashfn.c,
// Bob Jenkins' lookup3 hash returning both of its 32-bit words. PostgreSQL
// cannot change it, as hash partitioning and hash indexes store its values
// on disk, and pg_upgrade keeps them. It has been the same since
// PostgreSQL 11 introduced it.
//
// HAZARD: PostgreSQL reads the bytes in the machine's byte order, so a
// big-endian server (s390x, some POWER) computes other hashes. This
// package computes what a little-endian server computes (x86-64, arm64),
// which is every server we run on.
//
// HAZARD: hashtextextended hashes a text's bytes only under a
// deterministic collation (C, or any libc collation); under a
// nondeterministic ICU collation it hashes the collation's sort key, which
// this package does not compute.
//
// It is not a cryptographic hash: anyone can make two inputs collide.
package pghash
