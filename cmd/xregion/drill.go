package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/drill"
	"github.com/xregion/xregion/cmd/xregion/internal/report"
)

func newDrillCmd() *cobra.Command {
	var (
		s       drill.Settings
		latency time.Duration
		htmlOut string
		standby string
	)
	c := &cobra.Command{
		Use:   "drill",
		Short: "A game day: kill the primary under load, measure RTO and RPO per tier, fail back, verify",
		Long: `drill rehearses a region loss and says whether each tier met its targets.

It writes a steady load to a Tier 1 table (payments: synchronous, RPO 0) and
a Tier 2 table (inventory: asynchronous, RPO 15 min) in the primary region,
counting every acknowledged write. Then it kills the primary (its links
blackholed), and measures:

  time to detect  until the failure detector, probing the primary's /health
                  every --probe-every, declares it down after --failures probes
  RTO             until a write succeeds in the standby (the router follows the
                  detector's verdict; the standby applies the payments the
                  primary staged in it, then serves)
  RPO             acknowledged writes the standby lacks, per tier (Tier 1 must
                  lose none), against the live RPO the lag tracker reported at
                  the moment of the failure
  failback        the primary returns, resync recovers the writes it never
                  shipped and sends it the standby's, and both regions verify
                  equal, with every acknowledged write in both

It prints a table of target against measured per tier, PASS or FAIL on each
row, and exits with status 3 if any row failed. --report writes the same as a
self-contained HTML page with a timeline of the write rate, the live RPO and
the events.

With no --config it runs on in-memory regions in this process (about 45 s
at the default detector settings, a few seconds with --probe-every 1s). With
--config it runs on the first region the file names and --standby (default
the second), in schemas of its own in their databases (xregion_drill_tier1
and xregion_drill_tier2, dropped and made afresh): it kills the primary by
blackholing a proxy in this process through which it reaches that
database, so the deployment's own services are not touched.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			var (
				env *drill.Env
				err error
			)
			if c.Flags().Changed("config") {
				env, err = postgresEnv(c, standby)
			} else {
				env, err = drill.Embedded(ctx, latency)
			}
			if err != nil {
				return err
			}
			defer env.Close()
			res, err := drill.Run(ctx, env, s, c.OutOrStdout())
			if err != nil {
				return fmt.Errorf("drill: %w", err)
			}
			rep := res.Drill
			rep.Title = "xregion drill: " + env.About
			fmt.Fprintln(c.OutOrStdout())
			if err := drill.Print(c.OutOrStdout(), rep); err != nil {
				return err
			}
			if htmlOut != "" {
				if err := writeReport(htmlOut, rep); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "report: %s\n", htmlOut)
			}
			if !rep.Pass {
				return errFailed
			}
			return nil
		},
	}
	f := c.Flags()
	f.DurationVar(&s.ProbeEvery, "probe-every", 10*time.Second, "the failure detector's probe interval")
	f.DurationVar(&s.ProbeTimeout, "probe-timeout", 0, "each probe's timeout (default half the interval)")
	f.IntVar(&s.Failures, "failures", 3, "failed probes in a row that declare the primary down")
	f.DurationVar(&s.Warmup, "warmup", 5*time.Second, "load before the kill")
	f.DurationVar(&s.Outage, "outage", 3*time.Second, "how long the standby serves alone before the primary returns")
	f.DurationVar(&latency, "latency", 10*time.Millisecond, "one-way latency between the in-memory regions (ignored with --config)")
	f.StringVar(&htmlOut, "report", "", "also write the report as a self-contained HTML page to this file")
	f.StringVar(&standby, "standby", "", "with --config: the region that takes over (default the second the file names)")
	return c
}

// postgresEnv opens the drill's regions on the databases the config names.
func postgresEnv(c *cobra.Command, standby string) (*drill.Env, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	primary, second := cfg.Primary(), cfg.Regions[1]
	if standby != "" {
		if second, err = cfg.Region(xregion.Region(standby)); err != nil {
			return nil, err
		}
		if second.Name == primary.Name {
			return nil, fmt.Errorf("--standby %s is the primary; name another region", standby)
		}
	}
	return drill.Postgres(c.Context(), drill.Database{Name: primary.Name, DSN: primary.DSN}, drill.Database{Name: second.Name, DSN: second.DSN})
}

// writeReport writes rep as HTML to path, whole or not at all.
func writeReport(path string, rep report.Drill) error {
	var buf bytes.Buffer
	if err := report.Write(&buf, rep); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
