package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vmcore/vmcore/report"
)

// maxOopsInput bounds the text `vmcorectl oops` reads.
const maxOopsInput = 256 << 20

func newOopsCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "oops [FILE | -]", Short: "Find oops, BUG, WARNING, lockup, stall and panic reports in any text",
		Long: `Find every kernel report (oops, BUG, WARNING, KASAN, KMSAN, KCSAN, UBSAN, lockdep, kmemleak,
soft and hard lockups, RCU stalls, hung tasks, panics, arm faults, and the field's filesystem, I/O,
allocation and ZFS failures) in a kernel log, a console capture or text pasted from a mail or a
forum, and print each one's syzbot title (the crash signature), type, guilty function, taint and
modules. It reads FILE, or standard input when FILE is - or absent and input is piped.`,
		GroupID: "text", Args: rangeArgs(0, 1, "one file")}
	asJSON := c.Flags().Bool("json", false, "print every report found as JSON (docs/cli-json.md)")
	c.RunE = func(c *cobra.Command, args []string) error {
		b, err := readTextArg(args, s, maxOopsInput)
		if err != nil {
			return err
		}
		return printOopses(s, b, *asJSON)
	}
	return c
}

// readTextArg reads the file named, or standard input for "-" or no
// argument when input is piped; a text larger than limit is cut to its end
// (where the crash is), with a warning.
func readTextArg(args []string, s IO, limit int) ([]byte, error) {
	in := s.In
	switch {
	case len(args) > 0 && args[0] != "-":
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	case len(args) == 0 && s.InIsTerminal:
		return nil, usageError("give a FILE, or - to read standard input")
	}
	b, err := io.ReadAll(io.LimitReader(in, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		fmt.Fprintf(s.Err, "warning: input larger than %d MiB: only its end is read\n", limit>>20)
		b = b[len(b)-limit:]
	}
	return b, nil
}

// printOopses prints the reports found in b.
func printOopses(s IO, b []byte, asJSON bool) error {
	stdout := s.Out
	reports := report.Parse(string(b))
	if asJSON {
		if reports == nil {
			reports = []report.Report{}
		}
		return writeJSON(stdout, reports)
	}
	if len(reports) == 0 {
		return fmt.Errorf("no oops, BUG, WARNING, lockup, stall or panic report found")
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "title:    %s\ntype:     %s\n", r.Title, r.Type)
		if r.Function != "" {
			fmt.Fprintf(stdout, "function: %s\n", r.Function)
		}
		for _, a := range r.AltTitles {
			fmt.Fprintf(stdout, "also:     %s\n", a)
		}
		if r.Taint != "" {
			fmt.Fprintf(stdout, "taint:    %s\n", r.Taint)
		}
		if len(r.Modules) > 0 {
			fmt.Fprintf(stdout, "modules:  %s\n", strings.Join(r.Modules, " "))
		}
		if r.Corrupted {
			fmt.Fprintf(stdout, "corrupted: %s\n", r.Reason)
		}
	}
	return nil
}
