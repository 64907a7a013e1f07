package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/ops"
	"github.com/xregion/xregion/resync"
)

// newFailbackCmd returns the failback command.
func newFailbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failback --region REGION --survivor REGION [--dry-run] [--yes] [--digests-only]",
		Short: "Bring a returned region back: the plan, confirmation, apply with progress, verify",
		Long: `failback brings --region, a region that was lost and is back, level with
--survivor, the region that served in its place (package resync):

  1. plan     compare the regions table by table, changing nothing, and print
              what each receives: the writes --region took but never shipped
              (recovered, not discarded), the survivor's writes, the conflicts
              and which lost-update ledger they go to
  2. confirm  type yes (--yes skips the question; --dry-run stops before it)
  3. apply    send each region what it lacks, in resumable batches, with a
              progress bar on stderr; then move the watermarks past the gaps
  4. verify   compare both regions by digests and print the result

The keys that differ are found in the changelogs: each region's writes past
the other's watermark for it. --digests-only finds them by digests of key
ranges instead, for regions whose changelogs no longer cover what the other
lacks (a restored database), or to settle what the verification still finds.

A run cut off anywhere is finished by running it again: the stores are the
checkpoint, and nothing is moved twice. --region should take no writes until
failback ends; the survivor may go on serving, and writes made since the plan
are named apart by the verification, as still on their way.

Exit status: 0 when the regions verify equal (or after --dry-run); 3 when
they still differ (the keys are printed); 2 for a usage error; 1 for anything
else, a refused confirmation included.`,
		Args: refuseArgs,
		RunE: runFailback,
	}
	f := cmd.Flags()
	f.String("region", "", "the region that is back (required)")
	f.String("survivor", "", "the region that served in its place (required)")
	f.Bool("dry-run", false, "print the plan and stop: nothing is moved")
	f.Bool("yes", false, "apply without asking for confirmation")
	f.Bool("digests-only", false, "find the keys that differ by digests, not changelogs")
	return cmd
}

func runFailback(c *cobra.Command, _ []string) error {
	ctx := c.Context()
	region, _ := c.Flags().GetString("region")
	survivor, _ := c.Flags().GetString("survivor")
	dryRun, _ := c.Flags().GetBool("dry-run")
	yes, _ := c.Flags().GetBool("yes")
	digestsOnly, _ := c.Flags().GetBool("digests-only")
	switch {
	case region == "":
		return usageFail(c, "--region is required: the region that is back")
	case survivor == "":
		return usageFail(c, "--survivor is required: the region that served in its place")
	case region == survivor:
		return usageFail(c, "--region and --survivor are both %q; name two regions", region)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	retRegion, err := cfg.Region(xregion.Region(region))
	if err != nil {
		return err
	}
	survRegion, err := cfg.Region(xregion.Region(survivor))
	if err != nil {
		return err
	}
	returning, err := cfg.Open(ctx, retRegion)
	if err != nil {
		return err
	}
	defer returning.Close()
	surv, err := cfg.Open(ctx, survRegion)
	if err != nil {
		return err
	}
	defer surv.Close()

	out, errOut := c.OutOrStdout(), c.ErrOrStderr()
	bar := &ops.Bar{W: errOut, Terminal: redrawsInPlace(errOut)}
	in := bufio.NewReader(c.InOrStdin())
	// resync.Table's A is the returning region, B the survivor, as in Diff.
	tables := cfg.ResyncTables(returning, surv)
	plan := func(digests bool) (*resync.Plan, error) {
		opts := []resync.Option{resync.WithProgress(bar.Update)}
		if digests {
			opts = append(opts, resync.WithDigestsOnly())
		}
		p, err := resync.Diff(ctx, returning.Store, surv.Store, tables, opts...)
		bar.Finish()
		if err != nil {
			return nil, err
		}
		return p, p.Print(out)
	}
	apply := func(p *resync.Plan) error {
		applied, err := p.Apply(ctx)
		bar.Finish()
		ops.PrintApplied(out, p, applied)
		if err != nil {
			return fmt.Errorf("%w; run failback again to finish: nothing is moved twice", err)
		}
		return nil
	}
	first, err := plan(digestsOnly)
	if err != nil {
		return err
	}
	if dryRun {
		if h := first.Hidden(); h > 0 {
			fmt.Fprintf(out, "%d changes were hidden by open transactions: the plan does not list them; failback finds them by digests after applying\n", h)
		}
		fmt.Fprintln(out, "dry run: nothing was moved")
		return nil
	}
	if ops.NothingToApply(first) {
		fmt.Fprintln(out, "nothing to apply")
	} else {
		if !yes {
			if err := confirmFailback(in, out, first); err != nil {
				return err
			}
		}
		if err := apply(first); err != nil {
			return err
		}
	}
	verify := func() (*resync.Verification, error) {
		v, err := resync.Verify(ctx, returning.Store, surv.Store, tables, resync.WithProgress(bar.Update), resync.WithSince(first.Started))
		bar.Finish()
		if err != nil && !errors.Is(err, resync.ErrNotEqual) {
			return nil, err
		}
		return v, nil
	}
	v, err := verify()
	if err != nil {
		return err
	}
	if !v.Equal() && !digestsOnly {
		// What the changelogs did not show (changes open transactions hid
		// when the plan was made, a changelog cut short): as resync.Run
		// does, plan again by digests, and apply that too.
		msg := "the changelogs did not show every difference"
		if h := first.Hidden(); h > 0 {
			msg += fmt.Sprintf(" (%d changes were hidden by open transactions when the plan was made)", h)
		}
		fmt.Fprintln(out, msg+": planning again by digests")
		repair, err := plan(true)
		if err != nil {
			return err
		}
		if !ops.NothingToApply(repair) {
			if !yes {
				if err := confirmFailback(in, out, repair); err != nil {
					fmt.Fprintf(out, "%v\n", err)
					ops.PrintVerification(out, v)
					return errFailed
				}
			}
			if err := apply(repair); err != nil {
				return err
			}
			if v, err = verify(); err != nil {
				return err
			}
		}
	}
	if !ops.PrintVerification(out, v) {
		if digestsOnly {
			fmt.Fprintln(out, "the resolvers leave these keys apart: look at them, settle them by hand, and run failback again")
		} else {
			fmt.Fprintln(out, "run failback again to settle them")
		}
		return errFailed
	}
	return nil
}

// confirmFailback asks for "yes" on in and fails unless it gets it.
func confirmFailback(in *bufio.Reader, out io.Writer, plan *resync.Plan) error {
	fmt.Fprintf(out, "\napply this plan? %s.\ntype yes to apply: ", ops.PlanSummary(plan))
	line, err := in.ReadString('\n')
	answer := strings.TrimSpace(line)
	if err != nil && !(errors.Is(err, io.EOF) && answer != "") {
		fmt.Fprintln(out)
		return fmt.Errorf("no answer on stdin: nothing was applied; type yes, or pass --yes")
	}
	if !strings.EqualFold(answer, "yes") {
		return fmt.Errorf("not confirmed (the answer was %q, not yes): nothing was applied", answer)
	}
	return nil
}

// redrawsInPlace reports whether w is a terminal, where a progress bar may
// redraw itself in place.
func redrawsInPlace(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
