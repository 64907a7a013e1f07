package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/xregion/xregion/cmd/xregion/internal/config"
)

// exitFail is the exit status of a run that worked but found a failure
// (a drill target missed, regions that differ); 2 is for usage errors and
// 1 for everything else.
const exitFail = 3

// errFailed is returned by a command that ran to the end and found what it
// reports as a failure; main exits with exitFail without printing it again.
var errFailed = errors.New("failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return exitFail
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "xregion:", err)
	return 1
}

var errUsage = errors.New("usage")

// newRoot returns the xregion command with its subcommands.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "xregion",
		Short: "Operate a multi-region deployment of xregion: status, failover, failback, drill",
		Long: `xregion is the operator's tool for a region loss.

  status     each region's health and each link's live RPO against its tier
  failover   the manual failover: a proposal, a second person's approval, the steps
  failback   bring a returned region back: the plan, confirmation, apply, verify
  drill      a game day: kill the primary, measure RTO and RPO per tier, fail back

Every command but drill reads the config file (--config, default xregion.yaml)
that names the regions, their databases, Kafka brokers and health URLs, and
the tables with their strategy and tier. drill with no --config runs on
in-memory regions in this process.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		c.PrintErrln("xregion:", err)
		c.PrintErrln(c.UsageString())
		return errUsage
	})
	root.PersistentFlags().String("config", "xregion.yaml", "the config file naming the regions and tables")
	root.AddCommand(newStatusCmd(), newFailoverCmd(), newFailbackCmd(), newDrillCmd())
	return root
}

// loadConfig reads the file --config names.
func loadConfig(c *cobra.Command) (config.File, error) {
	path, err := c.Flags().GetString("config")
	if err != nil {
		return config.File{}, err
	}
	return config.Load(path)
}
