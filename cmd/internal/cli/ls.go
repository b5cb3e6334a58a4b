package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"
)

func runLs(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("ls", "", stderr)
	srv := AddServerFlags(fs, false)
	q := url.Values{}
	for _, name := range []string{"host", "release", "signature", "type", "status", "since", "until"} {
		fs.Func(name, "only dumps with this "+name, func(v string) error { q.Set(name, v); return nil })
	}
	limit := fs.Int("limit", 50, "how many dumps")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	rest, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: ls takes no arguments", ErrUsage)
	}
	q.Set("limit", strconv.Itoa(*limit))
	c, err := srv.Client()
	if err != nil {
		return err
	}
	l, err := c.List(context.Background(), q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(l)
	}
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
