// Package wait holds the one way xregion's packages pause: for a while, or
// until the context ends, whichever comes first.
//
//	if err := wait.Sleep(ctx, backoff); err != nil {
//		return err // ctx ended
//	}
package wait
