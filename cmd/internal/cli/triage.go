package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmcore/vmcore/api/client"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/messages"
)

// printer speaks the user's language: LC_ALL, LC_MESSAGES, LANG, as
// POSIX orders them. The catalogue is read the first time a command
// prints a message, never at start.
func (s IO) printer() *messages.Printer {
	return messages.For(messages.Match(s.Locale...))
}

// newSetCmd is `vmcorectl set ID`: the triage of a crash's bucket (or of
// the crash alone, or of a bucket by its id). Without a change it prints
// the state, the notes and the audit trail.
func newSetCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "set ID", Short: "Show or change the triage of a crash's bucket: status, assignee, notes, link, fix, rule",
		Long: `Show or change the triage state of the bucket a dump belongs to (or, with --crash, of that
dump alone; ID may also be a bucket's id): its status (new, investigating, known-issue,
not-a-bug, fixed, wont-fix), assignee, a case or bug link, the fix (commit and first kernel
release with it), a rule that gives every future crash of the bucket a status, and notes.
Without a change, print the state, the notes and the audit trail. Changing needs a support or
admin token.`,
		GroupID: "server", Args: rangeArgs(1, 1, "dump or bucket id")}
	fs := c.Flags()
	srv := addServerFlags(fs, false)
	var ch wire.TriageChange
	str := func(name, usage string, dst **string) {
		v := new(string)
		fs.StringVar(v, name, "", usage)
		c.PreRun = chain(c.PreRun, func(c *cobra.Command, _ []string) {
			if c.Flags().Changed(name) {
				*dst = v
			}
		})
	}
	str("status", "new, investigating, known-issue, not-a-bug, fixed or wont-fix (with --crash, \"\" follows the bucket again)", &ch.Status)
	str("assignee", "who works on it (\"\" for nobody)", &ch.Assignee)
	str("link", "a case or bug-tracker URL", &ch.LinkURL)
	str("link-label", "the link's label (CASE-1234)", &ch.LinkLabel)
	str("fix-commit", "the fix's commit id or URL", &ch.FixCommit)
	str("fix-release", "the first kernel release with the fix (6.1.193, 6.1.193-1, 6.1.0-57-amd64)", &ch.FixRelease)
	str("rule", "a status for every future crash of the bucket (not-a-bug, wont-fix, fixed; \"\" removes it)", &ch.Rule)
	fs.StringVar(&ch.Note, "note", "", "add a note (Markdown)")
	crashOnly := fs.Bool("crash", false, "change the dump alone, not its bucket")
	asJSON := fs.Bool("json", false, "print the triage view as JSON (docs/cli-json.md)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if !isDumpID(args[0]) {
			return usageError("give a dump or bucket id (16 hex digits)")
		}
		cl, err := srv.client()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.Context(), time.Minute)
		defer cancel()
		kind, id, err := triageSubject(ctx, cl, args[0], *crashOnly, ch.Rule != nil)
		if err != nil {
			return err
		}
		changing := ch.Status != nil || ch.Assignee != nil || ch.LinkURL != nil || ch.LinkLabel != nil || ch.FixCommit != nil ||
			ch.FixRelease != nil || ch.Rule != nil || ch.Note != ""
		if changing {
			if _, err := cl.SetTriage(ctx, kind, id, ch); err != nil {
				return err
			}
		}
		v, err := cl.Triage(ctx, kind, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(s.Out, v)
		}
		return printTriage(s.Out, s.printer(), v, !changing)
	}
	return c
}

// chain runs two cobra hooks in order.
func chain(a, b func(*cobra.Command, []string)) func(*cobra.Command, []string) {
	return func(c *cobra.Command, args []string) {
		if a != nil {
			a(c, args)
		}
		b(c, args)
	}
}

// triageSubject resolves ID: a dump (its bucket, unless crashOnly) or a
// bucket.
func triageSubject(ctx context.Context, cl *client.Client, id string, crashOnly, rule bool) (kind, subject string, err error) {
	v, err := cl.Triage(ctx, wire.KindDump, id)
	if err == nil {
		if crashOnly {
			if rule {
				return "", "", usageError("a rule is for a bucket's future crashes: leave out --crash")
			}
			return wire.KindDump, id, nil
		}
		if v.Bucket == nil {
			return "", "", fmt.Errorf("dump %s has no bucket yet (no signature): use --crash", id)
		}
		return wire.KindBucket, v.Bucket.ID, nil
	}
	if !client.IsNotFound(err) {
		return "", "", err
	}
	if crashOnly {
		return "", "", fmt.Errorf("no dump %s", id)
	}
	if _, err := cl.Triage(ctx, wire.KindBucket, id); err != nil {
		if client.IsNotFound(err) {
			return "", "", fmt.Errorf("no dump or bucket %s", id)
		}
		return "", "", err
	}
	return wire.KindBucket, id, nil
}

// printTriage prints a triage view for people, in their language; with
// history, the notes and the audit trail too.
func printTriage(w io.Writer, p *messages.Printer, v wire.TriageView, history bool) error {
	t := v.Triage
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, val)
		}
	}
	status := t.Status
	if status == "" && v.Bucket != nil {
		status = p.T("cli.follows_bucket", "Status", p.T("status."+v.Bucket.Status))
	} else if status != "" {
		status = p.T("status." + status)
	}
	row(p.T("cli.subject."+t.Kind), t.ID)
	row(p.T("field.status"), status)
	row(p.T("field.assignee"), t.Assignee)
	if t.LinkURL != "" {
		row(p.T("field.link_url"), strings.TrimSpace(t.LinkLabel+" "+t.LinkURL))
	}
	row(p.T("field.fix_commit"), t.FixCommit)
	row(p.T("field.fix_release"), t.FixRelease)
	if t.Rule != "" {
		row(p.T("field.rule"), p.T("cli.rule", "Status", p.T("status."+t.Rule), "By", t.RuleBy, "At", t.RuleAt.Local().Format(time.DateTime)))
	}
	if r := t.Regression; r != nil {
		row(p.T("field.regression"), p.T("cli.regression", "Dump", r.DumpID, "Release", r.Release))
	}
	if t.Upgrade != "" {
		row(p.T("field.upgrade"), p.T("fleet.upgrade", "Release", t.Upgrade))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !history {
		return nil
	}
	if len(v.Notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", p.T("triage.notes"))
		for _, n := range v.Notes {
			fmt.Fprintf(w, "  %s, %s\n", n.Author, n.Created.Local().Format(time.DateTime))
			for _, l := range strings.Split(strings.TrimRight(n.Body, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	if len(v.Events) > 0 {
		fmt.Fprintf(w, "\n%s\n", p.T("triage.audit", "Count", len(v.Events)))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, e := range v.Events {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Actor, p.Change(e.Field, e.Old, e.New))
		}
		return tw.Flush()
	}
	return nil
}
