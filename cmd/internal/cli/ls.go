package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmcore/vmcore/api/wire"
)

func newLsCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "ls", Short: "List the dumps on vmcored",
		Long: `List the dumps vmcored holds, newest first: id, crash time, host, kernel release, analysis,
triage status and crash signature, optionally only those matching the filters. --status takes
an analysis status (uploading, queued, analyzing, done, failed) or a triage status (new,
investigating, known-issue, not-a-bug, fixed, wont-fix: the dump's own, else its bucket's).`,
		GroupID: "server", Args: noArgs}
	fs := c.Flags()
	srv := addServerFlags(fs, false)
	filters := []string{"host", "release", "signature", "type", "status", "module", "taint", "since", "until"}
	vals := make([]string, len(filters))
	for i, name := range filters {
		fs.StringVar(&vals[i], name, "", "only dumps with this "+name)
	}
	sortBy := fs.String("sort", "crashed", "crashed (newest crash first) or arrival (latest received first)")
	limit := fs.Int("limit", 50, "how many dumps to list")
	asJSON := fs.Bool("json", false, "print the API's JSON (docs/cli-json.md)")
	c.RunE = func(c *cobra.Command, args []string) error {
		q := url.Values{}
		for i, name := range filters {
			if vals[i] == "" {
				continue
			}
			// The two kinds of status have no name in common.
			if name == "status" && wire.ValidTriageStatus(vals[i]) {
				name = "triage"
			}
			q.Set(name, vals[i])
		}
		switch *sortBy {
		case "crashed":
		case "arrival":
			q.Set("sort", "arrival")
		default:
			return usageError("--sort is crashed or arrival, not %q", *sortBy)
		}
		q.Set("limit", strconv.Itoa(*limit))
		cl, err := srv.client()
		if err != nil {
			return err
		}
		l, err := cl.List(c.Context(), q)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(s.Out, l)
		}
		return printDumps(s, l)
	}
	return c
}

// printDumps prints a page of the dump list as a table, its headings
// and state names in the user's language.
func printDumps(s IO, l wire.DumpList) error {
	stdout, stderr := s.Out, s.Err
	p := s.printer()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, p.T("cli.ls.header"))
	for _, d := range l.Dumps {
		when := d.CrashTime
		if when.IsZero() {
			when = d.Created
		}
		triage := "-"
		if d.Triage != "" {
			triage = p.T("status." + d.Triage)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, when.Local().Format(time.DateTime), dash(d.Hostname), dash(d.Release),
			p.T("analysis."+d.Status), triage, dash(d.Signature))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.Total > len(l.Dumps) {
		fmt.Fprintln(stderr, p.T("cli.ls.more", "Shown", len(l.Dumps), "Count", l.Total))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
