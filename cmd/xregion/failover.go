package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/cmd/xregion/internal/ops"
)

// newFailoverCmd returns the failover command: propose, list, approve.
func newFailoverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "The manual failover: a proposal, other people's approval, then its steps in order",
		Long: `failover moves the work of a region that is gone (--from) to the region that
takes over (--to). It takes as many people as the config's approvals (default
2), the proposer included:

  xregion failover propose --from a --to b --by alice --reason "a lost power"
  xregion failover approve ID --by bob

The proposal is recorded in the database of the region that takes over, so
the approvers can run approve from other machines; list shows the open ones.
The approval that completes the count runs the steps, in this order, each
printed as it completes with its duration and outcome:

  1/5 fence                    the old region still does not answer (else stop, unless --force)
  2/5 resolve staged writes    the target applies the writes peers staged in it synchronously;
                               with three regions or more, every survivor then gets every
                               write of the old region any of them holds (replicate.CatchUp)
  3/5 move homes               the target becomes the home of the old region's partitions
  4/5 translate bridge groups  consumer groups' offsets move to the target's Kafka cluster
  5/5 mark done                the proposal is recorded done, with who and when

Exit status: 0 when every step is done; 3 when a step failed or is NOT DONE
(the output says what to do); 2 for a usage error; 1 for anything else.`,
	}
	cmd.PersistentFlags().Duration("timeout", ops.DefaultProbeTimeout,
		"how long a region's database, health URL or Kafka may take to answer before it counts as not answering")
	cmd.AddCommand(newFailoverProposeCmd(), newFailoverListCmd(), newFailoverApproveCmd())
	return cmd
}

func newFailoverProposeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "propose --from REGION --to REGION --by NAME [--reason TEXT] [--force]",
		Short: "Propose to fail over from a region that is gone; prints the command that approves it",
		Long: `propose records a proposal to fail over from --from, a region that is gone, to
--to, the region that takes over, in --to's database. It prints the
proposal's id and the exact command another person runs to approve it.

It first checks that --from looks dead: neither its database nor its health
URL answers within --timeout. If either answers, it refuses and says what
answered: a region that answers may still be taking writes, and moving its
homes would split the brain. --force proposes anyway (say why in --reason);
the fence step then goes on although --from answers.

The proposer counts as the first approval. With approvals: 1 in the config
the proposal is approved at once, and approve by anyone carries it out.`,
		Args: refuseArgs,
		RunE: runFailoverPropose,
	}
	f := cmd.Flags()
	f.String("from", "", "the region that is gone (required)")
	f.String("to", "", "the region that takes over (required)")
	f.String("by", "", "your name: the proposer, and the first approval (required)")
	f.String("reason", "", "why, for the people who approve and for the record")
	f.Bool("force", false, "propose although --from answers (it must not be able to write)")
	return cmd
}

func runFailoverPropose(c *cobra.Command, _ []string) error {
	ctx := c.Context()
	from, _ := c.Flags().GetString("from")
	to, _ := c.Flags().GetString("to")
	by, _ := c.Flags().GetString("by")
	reason, _ := c.Flags().GetString("reason")
	force, _ := c.Flags().GetBool("force")
	timeout, _ := c.Flags().GetDuration("timeout")
	for _, req := range []struct{ name, value string }{{"from", from}, {"to", to}, {"by", by}} {
		if strings.TrimSpace(req.value) == "" {
			return usageFail(c, "--%s is required", req.name)
		}
	}
	if from == to {
		return usageFail(c, "--from and --to are both %q; fail over to another region", from)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	fromRegion, err := cfg.Region(xregion.Region(from))
	if err != nil {
		return err
	}
	toRegion, err := cfg.Region(xregion.Region(to))
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	probe := ops.Prober{Timeout: timeout}
	reach, err := probe.Region(ctx, fromRegion)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, reach)
	if reach.Answers() && !force {
		return fmt.Errorf("refused: %s answers, so it may still be taking writes, and moving its homes would split the brain; "+
			"check that it is gone (or stop it) and propose again, or pass --force if it cannot write (say why in --reason)", from)
	}
	p, err := ops.NewProposal(fromRegion.Name, toRegion.Name, by, reason, force, time.Now())
	if err != nil {
		return err
	}
	if p.Quorum(cfg.Approvals) {
		p.State = ops.StateApproved
	}
	props, err := ops.OpenProposals(ctx, toRegion, true, timeout)
	if err != nil {
		return fmt.Errorf("record the proposal in %s: %w", to, err)
	}
	defer props.Close()
	if err := props.Create(ctx, p); err != nil {
		return fmt.Errorf("record the proposal in %s: %w", to, err)
	}
	fmt.Fprintf(out, "proposal %s recorded in %s: fail over from %s to %s, proposed by %s\n", p.ID, to, from, to, p.By)
	if reason != "" {
		fmt.Fprintf(out, "reason: %s\n", reason)
	}
	if force {
		fmt.Fprintf(out, "forced: the fence step goes on although %s answers\n", from)
	}
	if p.State == ops.StateApproved {
		fmt.Fprintf(out, "the config asks for %d approval: it is approved. Carry it out with:\n\n    %s\n",
			cfg.Approvals, approveCommand(c, p.ID, shellArg(p.By)))
		return nil
	}
	fmt.Fprintf(out, "it needs %s, from people other than %s (approvals: %d, the proposer included). Each runs:\n\n    %s\n",
		moreApprovals(p.Missing(cfg.Approvals)), p.By, cfg.Approvals, approveCommand(c, p.ID, "<their name>"))
	return nil
}

func newFailoverListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "Show the open failover proposals of every region",
		Long: `list shows the failover proposals recorded in every region's database: the
open ones (waiting for approvals) and the approved ones whose steps did not
all finish; --all shows those that are done as well. A region that does not
answer within --timeout is named on stderr and passed over.`,
		Args: refuseArgs,
		RunE: runFailoverList,
	}
	cmd.Flags().Bool("all", false, "show the proposals that are done as well")
	return cmd
}

func runFailoverList(c *cobra.Command, _ []string) error {
	all, _ := c.Flags().GetBool("all")
	timeout, _ := c.Flags().GetDuration("timeout")
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	listings := ops.ListProposals(c.Context(), cfg.Regions, timeout)
	var ps []ops.Proposal
	failed := 0
	for _, l := range listings {
		if l.Err != nil {
			failed++
			fmt.Fprintf(c.ErrOrStderr(), "xregion: proposals not listed: %v\n", l.Err)
			continue
		}
		for _, p := range l.Proposals {
			if all || p.State != ops.StateDone {
				ps = append(ps, p)
			}
		}
	}
	if failed == len(listings) {
		return fmt.Errorf("no region answered")
	}
	slices.SortFunc(ps, func(a, b ops.Proposal) int { return a.ProposedAt.Compare(b.ProposedAt) })
	out := c.OutOrStdout()
	if len(ps) == 0 {
		fmt.Fprintln(out, "no open failover proposals")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFROM\tTO\tSTATE\tAPPROVALS\tPROPOSED\tREASON")
	now := time.Now()
	for _, p := range ps {
		state := string(p.State)
		if pending := p.Pending(); len(pending) > 0 && p.State != ops.StateDone {
			state += ", unfinished: " + strings.Join(pending, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d of %d: %s\t%s by %s (%s ago)\t%s\n", p.ID, p.From, p.To, state,
			len(p.Approvals), cfg.Approvals, strings.Join(p.Approvers(), ", "),
			p.ProposedAt.Format(time.RFC3339), p.By, now.Sub(p.ProposedAt).Round(time.Second), p.Reason)
	}
	return tw.Flush()
}

func newFailoverApproveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approve ID --by NAME [--to REGION]",
		Short: "Approve a failover proposal; the approval that completes the count runs the steps",
		Long: `approve adds your approval to proposal ID. The proposer cannot approve their
own proposal, and nobody approves twice. When the distinct approvals reach
the config's approvals (default 2, the proposer included), approve runs the
failover's steps in order, printing each as it completes with its duration
and outcome: fence, resolve staged writes, move homes, translate bridge
groups, mark done (see xregion failover --help).

The proposal is looked for in every region's database at once; --to names
the region that holds it (the one taking over) to skip the search.

Running approve again finishes the work of a run that stopped: after a crash,
an interrupt, a step that FAILED or one that is NOT DONE (a bridge whose
source cluster did not answer). On an approved proposal approve adds no
approval: it runs the steps not yet recorded done. Steps recorded done are
not run again, except the fence, which is checked again until the homes have
moved; the others are idempotent: staged writes are applied once, partitions
already homed in the target are left alone, a translation commits the same
offsets again.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageFail(c, "approve takes the proposal's id, as propose and list print it")
			}
			return nil
		},
		RunE: runFailoverApprove,
	}
	cmd.Flags().String("by", "", "your name (required)")
	cmd.Flags().String("to", "", "the region whose database holds the proposal (default: look in every region)")
	return cmd
}

func runFailoverApprove(c *cobra.Command, args []string) error {
	ctx := c.Context()
	id := args[0]
	by, _ := c.Flags().GetString("by")
	to, _ := c.Flags().GetString("to")
	timeout, _ := c.Flags().GetDuration("timeout")
	if strings.TrimSpace(by) == "" {
		return usageFail(c, "--by is required")
	}
	if err := ops.CheckID(id); err != nil {
		return usageFail(c, "%v", err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	regions := cfg.Regions
	if to != "" {
		r, err := cfg.Region(xregion.Region(to))
		if err != nil {
			return err
		}
		regions = []config.Region{r}
	}
	props, _, err := ops.FindProposal(ctx, regions, id, timeout)
	if err != nil {
		return err
	}
	defer props.Close()
	release, err := props.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	p, base, err := props.Get(ctx, id) // again, under the lease
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if p.State == ops.StateApproved && !p.Quorum(cfg.Approvals) {
		p.State = ops.StateOpen // the config asks for more approvals than when it was approved
	}
	switch p.State {
	case ops.StateDone:
		return fmt.Errorf("proposal %s was carried out at %s by %s; nothing to do", p.ID, p.DoneAt.Format(time.RFC3339), p.DoneBy)
	case ops.StateOpen:
		if err := p.Approve(by, time.Now(), cfg.Approvals); err != nil {
			return err
		}
		if base, err = props.Save(ctx, p, base); err != nil {
			return err
		}
		if !p.Quorum(cfg.Approvals) {
			fmt.Fprintf(out, "proposal %s approved by %s: %d of %d approvals (%s). It needs %s, from other people; each runs:\n\n    %s\n",
				p.ID, strings.TrimSpace(by), len(p.Approvals), cfg.Approvals, strings.Join(p.Approvers(), ", "),
				moreApprovals(p.Missing(cfg.Approvals)), approveCommand(c, p.ID, "<their name>"))
			return nil
		}
		fmt.Fprintf(out, "proposal %s approved by %s: it has the %d approvals it needs; running its steps\n", p.ID, strings.TrimSpace(by), cfg.Approvals)
	case ops.StateApproved:
		fmt.Fprintf(out, "proposal %s was approved by %s; running the steps an earlier run did not finish\n", p.ID, strings.Join(p.Approvers(), ", "))
	}
	if _, err := cfg.Region(p.From); err != nil {
		return err
	}
	toRegion, err := cfg.Region(p.To)
	if err != nil {
		return err
	}
	target, err := cfg.Open(ctx, toRegion)
	if err != nil {
		return err
	}
	defer target.Close()
	// With three regions or more, the other survivors catch up with the
	// target on the old home's writes before anything moves.
	var others []*config.Opened
	for _, r := range cfg.Regions {
		if r.Name == p.From || r.Name == p.To {
			continue
		}
		o, err := cfg.Open(ctx, r)
		if err != nil {
			return fmt.Errorf("open survivor %s to catch it up: %w", r.Name, err)
		}
		defer o.Close()
		others = append(others, o)
	}
	f := &ops.Failover{Config: cfg, Proposals: props, To: target, Others: others, By: strings.TrimSpace(by),
		Probe: ops.Prober{Timeout: timeout}, Out: out}
	if err := f.Run(ctx, &p, base); err != nil {
		if errors.Is(err, ops.ErrIncomplete) {
			return errFailed
		}
		return err
	}
	return nil
}

// moreApprovals says how many more approvals a proposal needs.
func moreApprovals(n int) string {
	if n == 1 {
		return "1 more approval"
	}
	return fmt.Sprintf("%d more approvals", n)
}

// refuseArgs refuses positional arguments as a usage error.
func refuseArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageFail(c, "unexpected argument %q", args[0])
	}
	return nil
}

// usageFail reports a usage error as the root's flag errors are, and
// returns errUsage (exit status 2).
func usageFail(c *cobra.Command, format string, args ...any) error {
	c.PrintErrln("xregion:", fmt.Sprintf(format, args...))
	c.PrintErrln(c.UsageString())
	return errUsage
}

// approveCommand is the command line that approves proposal id as by: as
// this run was invoked, with the --config and --timeout it was given.
func approveCommand(c *cobra.Command, id, by string) string {
	s := c.Root().Name()
	if f := c.Flag("config"); f != nil && f.Changed {
		s += " --config " + shellArg(f.Value.String())
	}
	s += " failover approve " + id + " --by " + by
	if f := c.Flag("timeout"); f != nil && f.Changed {
		s += " --timeout " + f.Value.String()
	}
	return s
}

var shellSafeArg = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellArg quotes s for a POSIX shell, unless it needs no quotes.
func shellArg(s string) string {
	if shellSafeArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
