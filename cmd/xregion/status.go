package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/xregion/xregion/cmd/xregion/internal/status"
)

// defaultEvery is how often --watch gathers a report.
const defaultEvery = 2 * time.Second

// clearScreen moves the cursor home and clears a terminal, between the
// frames of --watch.
const clearScreen = "\x1b[H\x1b[2J"

// frameSeparator separates the text frames of --watch when stdout is not
// a terminal.
const frameSeparator = "\n----\n\n"

func newStatusCmd() *cobra.Command {
	var (
		asJSON  bool
		watch   bool
		every   time.Duration
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "status",
		Short: "Each region's health and each link's live RPO against its tier's target",
		Long: `Show each region's health, each replication link's live RPO and last
contact against its tier's target, the writes waiting in each region's stage,
and the epochs of the single-writer ownership map as each region sees it.

Every region of the config is read at once, each given --timeout: its /health
URL when the config names one (UP, DEGRADED or DOWN as the region judges
itself, or UNREACHABLE), and its database directly. The live RPO of a link
from -> to is measured in the data: the age of the oldest change made in
"from" that "to" has not applied. It is compared with the RPO target of the
strictest tier among the config's tables: OK, OVER_TARGET, or UNKNOWN when an
end cannot be read. Last contact comes from the regions' /health reports.

Exit status: 0 when every region is UP and every link OK; 3 when the report
shows anything else (the report is printed first); 2 for bad flags; 1 when
the config cannot be read. With --watch, the status of the last frame.

--json writes the report as JSON, "version": 1, one stable shape:
  {"version", "at", "timeout_ms", "ok",
   "regions": [{"name", "primary", "status", "health", "store", "staged", "ownership"}],
   "links":   [{"from", "to", "status", "reason", "tier", "target_ms", "rpo_ms",
                "pending", "pending_bytes", "last_contact", "since_contact_ms",
                "contact_reported_by", "reported_rpo_ms"}]}
Durations are whole milliseconds in fields ending _ms, times RFC 3339 in UTC,
and what could not be read is null, with a fixed "reason" word beside it (no
error text, host or DSN). "ok" is what the exit status says. With --watch,
one compact report per line. Every field is documented in the package doc:
  go doc github.com/xregion/xregion/cmd/xregion/internal/status`,
		Example: `  xregion status --config xregion.yaml
  xregion status --json | jq '.links[] | select(.status != "OK")'
  xregion status --watch --every 5s`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				c.PrintErrln("xregion: status takes no arguments, only flags")
				c.PrintErrln(c.UsageString())
				return errUsage
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			for name, d := range map[string]time.Duration{"every": every, "timeout": timeout} {
				if d <= 0 {
					c.PrintErrf("xregion: --%s %v; want a positive duration such as 2s\n", name, d)
					return errUsage
				}
			}
			f, err := loadConfig(c)
			if err != nil {
				return err
			}
			m, err := status.New(f, status.WithTimeout(timeout))
			if err != nil {
				return err
			}
			defer m.Close()
			out := &frames{w: c.OutOrStdout(), json: asJSON, watch: watch, terminal: isTerminal(c.OutOrStdout())}
			if !watch {
				rep, err := m.Gather(c.Context())
				if err != nil {
					return err
				}
				return verdict(rep, out.write(rep))
			}
			return watchStatus(c.Context(), m, every, out)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&asJSON, "json", false, "write the report as JSON (see --help for its shape)")
	fl.BoolVar(&watch, "watch", false, "gather a report every --every until interrupted (ctrl-C)")
	fl.DurationVar(&every, "every", defaultEvery, "how often --watch gathers a report")
	fl.DurationVar(&timeout, "timeout", status.DefaultTimeout, "how long each region is given to answer")
	return c
}

// watchStatus writes a frame every period until ctx ends, and returns the
// verdict of the last one.
func watchStatus(ctx context.Context, m *status.Monitor, every time.Duration, out *frames) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last error
	for n := 0; ; n++ {
		rep, err := m.Gather(ctx)
		if err != nil {
			if n > 0 && ctx.Err() != nil {
				return last // interrupted mid-frame
			}
			return err
		}
		if last = verdict(rep, out.write(rep)); last != nil && !errors.Is(last, errFailed) {
			return last // stdout is gone
		}
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

// verdict is the command's error for a report that was written with
// writeErr.
func verdict(rep status.Report, writeErr error) error {
	switch {
	case writeErr != nil:
		return fmt.Errorf("write report: %w", writeErr)
	case !rep.OK:
		return errFailed
	}
	return nil
}

// frames writes reports to w: JSON or text, one or a stream (watch).
type frames struct {
	w        io.Writer
	json     bool
	watch    bool
	terminal bool // w is one: clear it between text frames
	written  int
}

func (f *frames) write(rep status.Report) error {
	f.written++
	if f.json {
		enc := json.NewEncoder(f.w)
		if !f.watch {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(rep) // one line per report when watching
	}
	switch {
	case f.watch && f.terminal:
		if _, err := io.WriteString(f.w, clearScreen); err != nil {
			return err
		}
	case f.watch && f.written > 1:
		if _, err := io.WriteString(f.w, frameSeparator); err != nil {
			return err
		}
	}
	return status.WriteText(f.w, rep)
}

// isTerminal reports whether w is a terminal (a character device), where
// --watch clears the screen between frames.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
