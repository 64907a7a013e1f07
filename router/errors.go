package router

import (
	"fmt"

	"github.com/xregion/xregion"
)

// RegionError is a request that got no response from Region: the base
// RoundTripper returned Err. The request may or may not have reached the
// region and been acted on. When the request was retried on another region
// and failed there too, the error is the retry's and First is the first
// attempt's; otherwise First is nil.
type RegionError struct {
	Region xregion.Region
	Method string
	Err    error
	First  *RegionError
}

func (e *RegionError) Error() string {
	s := fmt.Sprintf("router: %s in region %s: %v", e.Method, e.Region, e.Err)
	if e.First != nil {
		s += fmt.Sprintf(" (retried after %s in region %s: %v)", e.First.Method, e.First.Region, e.First.Err)
	}
	return s
}

// Unwrap returns Err and, after a retry, First.
func (e *RegionError) Unwrap() []error {
	if e.First != nil {
		return []error{e.Err, e.First}
	}
	return []error{e.Err}
}
