// Package wait holds the one way xregion's packages pause: for a while on
// their clock (the injected xregion.Timers, so a test moves time by hand),
// or until the context ends, whichever comes first.
//
//	if err := wait.Sleep(ctx, cfg.clock, backoff); err != nil {
//		return err // ctx ended
//	}
package wait
