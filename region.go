package xregion

import "strconv"

// Region names a cloud region, such as "us-east-1". It is part of every
// Version, so it breaks timestamp ties: choose names once and never rename.
type Region string

// MaxNameLen is the longest region or table name accepted.
const MaxNameLen = 63

// Validate reports whether r is a usable region name: 1 to 63 characters of
// lowercase ASCII letters, digits, '-' and '_', starting with a letter or digit.
func (r Region) Validate() error {
	if err := checkName(string(r), true); err != "" {
		return invalid("region "+quote(string(r)), "%s", err)
	}
	return nil
}

// ValidateTableName reports whether name is a usable table name: 1 to 63
// characters of lowercase ASCII letters, digits and '_', starting with a
// letter. Stores rely on this to use the name in SQL safely.
func ValidateTableName(name string) error {
	if err := checkName(name, false); err != "" {
		return invalid("table name "+quote(name), "%s", err)
	}
	return nil
}

// checkName returns why name is not acceptable, or "".
func checkName(name string, region bool) string {
	if name == "" {
		return "empty; want 1 to 63 lowercase letters, digits or '_'"
	}
	if len(name) > MaxNameLen {
		return "longer than 63 bytes"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && (i > 0 || region):
		case c == '_' && i > 0:
		case c == '-' && i > 0 && region:
		default:
			if region {
				return "want lowercase letters, digits, '-' or '_', starting with a letter or digit"
			}
			return "want lowercase letters, digits or '_', starting with a letter"
		}
	}
	return ""
}

// quote prints a name from untrusted input safely and briefly.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
