package xregion

import (
	"cmp"
	"strings"
)

// Version identifies one write: the HLC timestamp it was stamped with and the
// region that stamped it. Versions are totally ordered, by timestamp and then
// by region name, so every region picks the same winner between two writes
// stamped with equal timestamps in different regions. The zero Version means
// "no version": no record, or a blind write's Base.
type Version struct {
	Time   Timestamp
	Region Region
}

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v orders before, equal to or after w.
func (v Version) Compare(w Version) int {
	if c := v.Time.Compare(w.Time); c != 0 {
		return c
	}
	return cmp.Compare(v.Region, w.Region)
}

// Less reports whether v orders before w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// String formats v as "timestamp@region".
func (v Version) String() string {
	if v.IsZero() {
		return "none"
	}
	var b strings.Builder
	b.WriteString(v.Time.String())
	b.WriteByte('@')
	b.WriteString(string(v.Region))
	return b.String()
}

// Validate checks a version stamped by a writer: a non-zero timestamp and a
// valid region.
func (v Version) Validate() error {
	if v.Time.IsZero() {
		return invalid("version "+v.String(), "zero timestamp; stamp writes with Clock.Now")
	}
	if v.Time.WallTime < 0 || v.Time.Logical < 0 {
		return invalid("version", "negative timestamp")
	}
	return v.Region.Validate()
}

// MarshalText formats v as String does, so that versions read well in JSON.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses what MarshalText formats. Errors wrap ErrInvalid.
func (v *Version) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "none" {
		*v = Version{}
		return nil
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return invalid("version "+quote(s), "want timestamp@region or none")
	}
	ts, err := ParseTimestamp(s[:at])
	if err != nil {
		return err
	}
	w := Version{Time: ts, Region: Region(s[at+1:])}
	if err := w.Validate(); err != nil {
		return err
	}
	*v = w
	return nil
}
