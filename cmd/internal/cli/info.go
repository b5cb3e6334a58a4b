package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/cmd/internal/env"
	"github.com/vmcore/vmcore/vmcore"
)

// DumpInfo is what `vmcorectl info` reports about a dump.
type DumpInfo struct {
	Format      string     `json:"format"`
	Container   string     `json:"container,omitempty"`
	Flattened   bool       `json:"flattened"`
	SplitFiles  int        `json:"split_files"`
	Compression string     `json:"compression"`
	DumpLevel   int        `json:"dump_level"`
	Arch        string     `json:"arch"`
	PageSize    int        `json:"page_size"`
	Release     string     `json:"release,omitempty"`
	Version     string     `json:"version,omitempty"`
	BuildID     string     `json:"build_id,omitempty"`
	CrashTime   *time.Time `json:"crash_time,omitempty"`
	DumpTime    *time.Time `json:"dump_time,omitempty"`
	NodeName    string     `json:"nodename,omitempty"`
	CPUs        int        `json:"cpus"`
	CPUNotes    int        `json:"cpu_notes"`
	Pages       pageCounts `json:"pages"`
	Partial     bool       `json:"partial"`
	Warnings    []string   `json:"warnings,omitempty"`
}

// pageCounts counts the dump's page frames by how it holds them.
type pageCounts struct {
	RAM      uint64 `json:"ram"`      // pages of RAM the crashed machine had
	Dumped   uint64 `json:"dumped"`   // pages whose contents are in the dump
	Excluded uint64 `json:"excluded"` // RAM pages filtered out (dump level)
	Lost     uint64 `json:"lost"`     // pages that should be there but are not
}

// dumpLevelBits names makedumpfile's -d bits.
var dumpLevelBits = []string{"zero", "cache", "cache private", "user", "free"}

func describeDumpLevel(l int) string {
	if l < 0 {
		return "unknown (the format does not record it)"
	}
	var ex []string
	for i, n := range dumpLevelBits {
		if l&(1<<i) != 0 {
			ex = append(ex, n)
		}
	}
	if len(ex) == 0 {
		return fmt.Sprintf("%d (nothing excluded)", l)
	}
	return fmt.Sprintf("%d (excludes %s pages)", l, strings.Join(ex, ", "))
}

func inspect(d *vmcore.Dump) DumpInfo {
	h := d.Header
	in := DumpInfo{
		Format: string(d.Format), Container: h.Container, Flattened: h.Flattened, SplitFiles: h.SplitFiles,
		Compression: h.Compression, DumpLevel: h.DumpLevel, Arch: string(d.Arch), PageSize: d.PageSize,
		Release: h.Utsname.Release, Version: h.Utsname.Version, NodeName: h.Utsname.Nodename,
		CPUs: h.NrCPUs, CPUNotes: len(d.CPUs), Partial: h.Incomplete, Warnings: d.Warnings,
	}
	if !h.Timestamp.IsZero() {
		t := h.Timestamp
		in.DumpTime = &t
	}
	if d.Info != nil {
		in.BuildID = d.Info.BuildID()
		if ct, ok := d.Info.CrashTime(); ok {
			t := time.Unix(ct, 0).UTC()
			in.CrashTime = &t
		}
	}
	if u, err := analyzer.Utsname(d); err == nil {
		in.Release, in.Version, in.NodeName = u.Release, u.Version, u.Nodename
		if in.Arch == "" {
			in.Arch = u.Machine
		}
	} else {
		in.Warnings = append(in.Warnings, "utsname: "+err.Error())
	}
	if in.CPUs == 0 {
		in.CPUs = len(d.CPUs)
	}
	pc, err := d.PageCounts()
	if err != nil {
		in.Warnings = append(in.Warnings, "page counts: "+err.Error())
	}
	in.Pages = pageCounts{RAM: pc.RAM, Dumped: pc.Dumped, Excluded: pc.Excluded, Lost: pc.Lost}
	return in
}

func newInfoCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "info DUMP [DUMP...]", Short: "Print what a dump is: format, kernel, crash time, pages",
		Long: `Print what a dump file is, from its headers alone: the format (ELF, kdump-compressed,
flattened, split, in a container), the page compression and dump level, the architecture and
page size, the kernel release, version and build-id, the crash time, the node name, the CPUs,
how many pages it holds, and whether it is partial.`,
		GroupID: "dump", Args: rangeArgs(1, -1, "dump file")}
	asJSON := c.Flags().Bool("json", false, "print JSON (docs/cli-json.md)")
	c.RunE = func(c *cobra.Command, files []string) error {
		d, err := env.OpenOptions().Open(c.Context(), files...) // its warnings are part of the report
		if err != nil {
			return err
		}
		defer d.Close()
		in := inspect(d)
		if *asJSON {
			return writeJSON(s.Out, in)
		}
		return printInfo(s.Out, in)
	}
	return c
}

// printInfo prints a dump's facts as a table.
func printInfo(stdout io.Writer, in DumpInfo) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	format := in.Format
	var wraps []string
	if in.Flattened {
		wraps = append(wraps, "flattened")
	}
	if in.SplitFiles > 1 {
		wraps = append(wraps, fmt.Sprintf("split in %d files", in.SplitFiles))
	}
	if in.Container != "" {
		wraps = append(wraps, "in a "+in.Container+" container")
	}
	if len(wraps) > 0 {
		format += " (" + strings.Join(wraps, ", ") + ")"
	}
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("format", format)
	row("compression", in.Compression)
	row("dump level", describeDumpLevel(in.DumpLevel))
	row("arch", fmt.Sprintf("%s, %d-byte pages", in.Arch, in.PageSize))
	row("kernel", in.Release)
	row("version", in.Version)
	row("build-id", orNone(in.BuildID))
	if in.CrashTime != nil {
		row("crash time", in.CrashTime.Format(time.RFC3339))
	} else {
		row("crash time", "none (not a kdump crash dump, or no VMCOREINFO)")
	}
	row("node name", orNone(in.NodeName))
	row("cpus", fmt.Sprintf("%d (%d with saved registers)", in.CPUs, in.CPUNotes))
	row("pages", fmt.Sprintf("%d RAM, %d dumped, %d excluded", in.Pages.RAM, in.Pages.Dumped, in.Pages.Excluded))
	partial := "no"
	if in.Partial {
		partial = "yes: the dump is incomplete"
	}
	row("partial", partial)
	for _, w := range in.Warnings {
		row("warning", w)
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
