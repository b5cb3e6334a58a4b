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
		Long: `List the dumps vmcored holds, newest first: id, crash time, host, kernel release, status and
crash signature, optionally only those matching the filters.`,
		GroupID: "server", Args: noArgs}
	fs := c.Flags()
	srv := addServerFlags(fs, false)
	filters := []string{"host", "release", "signature", "type", "status", "since", "until"}
	vals := make([]string, len(filters))
	for i, name := range filters {
		fs.StringVar(&vals[i], name, "", "only dumps with this "+name)
	}
	limit := fs.Int("limit", 50, "how many dumps to list")
	asJSON := fs.Bool("json", false, "print the API's JSON (docs/cli-json.md)")
	c.RunE = func(c *cobra.Command, args []string) error {
		q := url.Values{}
		for i, name := range filters {
			if vals[i] != "" {
				q.Set(name, vals[i])
			}
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

// printDumps prints a page of the dump list as a table.
func printDumps(s IO, l wire.DumpList) error {
	stdout, stderr := s.Out, s.Err
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCRASHED\tHOST\tRELEASE\tSTATUS\tSIGNATURE")
	for _, d := range l.Dumps {
		when := d.CrashTime
		if when.IsZero() {
			when = d.Created
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, when.Local().Format(time.DateTime), dash(d.Hostname), dash(d.Release), d.Status, dash(d.Signature))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.Total > len(l.Dumps) {
		fmt.Fprintf(stderr, "%d of %d dumps shown (--limit)\n", len(l.Dumps), l.Total)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
