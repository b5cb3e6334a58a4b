package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vmcore/vmcore/report"
)

// maxOopsInput bounds the text `vmcorectl oops` reads.
const maxOopsInput = 256 << 20

func runOops(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("oops", "[FILE|-]", stderr)
	asJSON := fs.Bool("json", false, "print every report found as JSON")
	files, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if len(files) == 0 {
		// Without a file the text comes from a pipe or a redirect;
		// a terminal would only wait for a paste nobody announced.
		if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return fmt.Errorf("oops: give a FILE, or - to read a report pasted on standard input")
		}
	}
	if len(files) > 0 && files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	b, err := io.ReadAll(io.LimitReader(in, maxOopsInput+1))
	if err != nil {
		return err
	}
	if len(b) > maxOopsInput {
		fmt.Fprintf(stderr, "warning: input larger than %d MiB: only its end is read\n", maxOopsInput>>20)
		b = b[len(b)-maxOopsInput:]
	}
	reports := report.Parse(string(b))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		if reports == nil {
			reports = []report.Report{}
		}
		return enc.Encode(reports)
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
