package partition

// Observe lets tests put a grant into a Router's snapshot directly, as the
// ownership table's resolver does when it stores one.
func (r *Router) Observe(o Ownership) bool { return r.observe(o) }

// EncodeOwnership and DecodeOwnership expose the ownership record's value
// format to the fuzz target.
var (
	EncodeOwnership = encodeOwnership
	DecodeOwnership = decodeOwnership
)
