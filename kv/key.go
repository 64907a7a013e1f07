package kv

import (
	"strings"
	"unicode/utf8"

	"github.com/xregion/xregion"
)

// Separator joins a namespace and a key into the table's record key:
// "orders/po-1001". Namespaces cannot hold it; keys can, so a key may be a
// path ("exports/2026/06/01.csv").
const Separator = "/"

// Limits on names. A namespace and a key joined by Separator fit
// xregion.MaxKeyLen whatever their lengths within these limits.
const (
	MaxNamespaceLen     = 64                                        // bytes
	MaxKeyLen           = xregion.MaxKeyLen - MaxNamespaceLen - 1   // bytes (959)
	MaxValueLen         = xregion.MaxValueLen - maxEnvelopeOverhead // bytes
	maxEnvelopeOverhead = 2 + 8 + 10 + 5                            // format, flags, nonce, expiry, value length
)

// ValidateNamespace checks a namespace: 1 to MaxNamespaceLen bytes of valid
// UTF-8 without NUL or Separator. The error is an *xregion.InvalidError.
func ValidateNamespace(ns string) error {
	switch {
	case ns == "":
		return invalid("namespace", "empty; want 1 to %d bytes without %q", MaxNamespaceLen, Separator)
	case len(ns) > MaxNamespaceLen:
		return invalid("namespace "+quote(ns), "%d bytes; the limit is %d", len(ns), MaxNamespaceLen)
	case strings.Contains(ns, Separator):
		return invalid("namespace "+quote(ns), "contains %q, which separates it from the key; use another character", Separator)
	}
	return validText("namespace", ns)
}

// ValidateKey checks a key within a namespace: 1 to MaxKeyLen bytes of
// valid UTF-8 without NUL. The error is an *xregion.InvalidError.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return invalid("key", "empty; want 1 to %d bytes", MaxKeyLen)
	case len(key) > MaxKeyLen:
		return invalid("key "+quote(key), "%d bytes; the limit is %d", len(key), MaxKeyLen)
	}
	return validText("key", key)
}

func validText(what, s string) error {
	if !utf8.ValidString(s) {
		return invalid(what+" "+quote(s), "not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid(what+" "+quote(s), "contains NUL")
	}
	return nil
}

// recordKey returns the record key of key in namespace ns, once both pass.
func recordKey(ns, key string) (string, error) {
	if err := ValidateNamespace(ns); err != nil {
		return "", err
	}
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return ns + Separator + key, nil
}

// splitKey is the inverse of recordKey; ok is false for a record key that
// recordKey cannot have made.
func splitKey(rk string) (ns, key string, ok bool) {
	ns, key, ok = strings.Cut(rk, Separator)
	return ns, key, ok && ns != "" && key != ""
}
