package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/cmd/internal/env"
	"github.com/vmcore/vmcore/vmcore"
)

// logFlags are the options of `vmcorectl log`.
type logFlags struct {
	wall, showLevel, caller bool
	levels                  string
	since, until            float64
	json                    bool
	color                   string
	stats                   bool
}

// plain reports whether the log is asked for exactly as the kernel wrote
// it: no option changes what a line holds or which lines print.
func (f *logFlags) plain(c *cobra.Command) bool {
	return !f.wall && !f.showLevel && !f.caller && f.levels == "" && !c.Flags().Changed("since") &&
		!c.Flags().Changed("until") && !f.json
}

func newLogCmd(s IO) *cobra.Command {
	c := dumpCommand("log", "Print the kernel log, as makedumpfile --dump-dmesg does",
		`Print the kernel log of a dump, byte for byte as makedumpfile --dump-dmesg prints it, from
the dump's VMCOREINFO alone: no debuginfo is needed. Options select records, add the level
(crash's log -m), the caller, or wall-clock times (dmesg -T), or print JSON.

For a dump on vmcored that is not analysed yet, the vmcore-dmesg.txt uploaded with it is
printed instead.`)
	c.Example = `  vmcorectl log /var/crash/202611220502/dump.202611220502
  vmcorectl log --level warn+ -T vmcore
  vmcorectl log --since 120.5 --json vmcore | jq .text`
	var f logFlags
	fs := c.Flags()
	fs.BoolVarP(&f.wall, "wall-clock", "T", false, "print wall-clock times (the crash time minus the uptime) instead of seconds since boot")
	fs.BoolVarP(&f.showLevel, "show-level", "m", false, "print each record's level as <N>, as crash's log -m")
	fs.BoolVarP(&f.caller, "caller", "c", false, "print each record's caller: task T<pid>, or CPU C<n> in interrupt context")
	fs.StringVar(&f.levels, "level", "", "only these `levels`: a name or number (err, 3), a comma list, or NAME+ for that level and worse (warn+)")
	fs.Float64Var(&f.since, "since", 0, "only records at or after this many `seconds` since boot")
	fs.Float64Var(&f.until, "until", 0, "only records at or before this many `seconds` since boot")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per record (JSON Lines; docs/cli-json.md)")
	fs.StringVar(&f.color, "color", "auto", "colour by level, `when`: auto (on a terminal), always or never")
	fs.BoolVar(&f.stats, "stats", false, "print to standard error how much of the dump was read")
	srv := addServerFlags(fs, true)
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := f.check(); err != nil {
			return err
		}
		if id, ok := srv.remoteID(args); ok {
			return f.remote(c, srv, id, s)
		}
		return f.local(c, args, s)
	}
	return c
}

// check reports a mistake in the flags' values, before any dump is read.
func (f *logFlags) check() error {
	if f.levels != "" {
		if _, err := analysis.ParseLevel(f.levels); err != nil {
			return usageError("%v", err)
		}
	}
	_, err := useColor(f.color, io.Discard)
	return err
}

// local prints the kernel log of the dump in files.
func (f *logFlags) local(c *cobra.Command, files []string, s IO) error {
	d, err := env.OpenOptions().Open(c.Context(), files...)
	if err != nil {
		return err
	}
	defer d.Close()
	warnAll(s.Err, d.Warnings)
	lg, err := printk.ReadLog(c.Context(), d)
	if err != nil {
		return err
	}
	var crash time.Time
	if d.Info != nil {
		if ct, ok := d.Info.CrashTime(); ok {
			crash = time.Unix(ct, 0)
		}
	}
	return f.print(c, lg, crash, d, s)
}

// remote prints the log of a dump on the server.
func (f *logFlags) remote(c *cobra.Command, srv *serverFlags, id string, s IO) error {
	a, err := srv.analysis(c.Context(), id)
	if errors.Is(err, errNotAnalysed) && f.plain(c) {
		// Not analysed yet: the vmcore-dmesg.txt sent first is the log.
		cl, err := srv.client()
		if err != nil {
			return err
		}
		return cl.Get(context.WithoutCancel(c.Context()), "/api/v1/dumps/"+id+"/log", s.Out)
	} else if err != nil {
		return err
	}
	var crash time.Time
	if a.System != nil && a.System.Date != nil {
		crash = *a.System.Date
	}
	return f.print(c, &printk.Log{Records: a.Log}, crash, nil, s)
}

// print prints lg as the flags ask; crash is the crash time, for -T (zero
// when unknown), and d the dump it was read from, for --stats (nil for a
// log from the server).
func (f *logFlags) print(c *cobra.Command, lg *printk.Log, crash time.Time, d *vmcore.Dump, s IO) error {
	var accept map[int]bool
	if f.levels != "" {
		accept, _ = analysis.ParseLevel(f.levels) // checked before
	}
	colorOn, err := useColor(f.color, s.Out)
	if err != nil {
		return err
	}
	format := analysis.LogFormat{Level: f.showLevel, Caller: f.caller, Color: colorOn}
	if f.wall {
		if crash.IsZero() {
			return errors.New("-T needs the crash time, and this dump's VMCOREINFO has no CRASHTIME")
		}
		format.WallClock = true
		format.Boot = analysis.BootTime(lg.Records, crash).Local()
	}
	since, until := c.Flags().Changed("since"), c.Flags().Changed("until")
	bw := bufio.NewWriterSize(s.Out, 32<<10)
	enc := json.NewEncoder(bw)
	var line []byte
	for i := range lg.Records {
		r := &lg.Records[i]
		if accept != nil && !accept[r.Level] {
			continue
		}
		if since && float64(r.TimeNS)/1e9 < f.since || until && float64(r.TimeNS)/1e9 > f.until {
			continue
		}
		if f.json {
			if err := enc.Encode(jsonRecord{r, strings.TrimSpace(r.Timestamp()), analysis.LevelName(r.Level), r.Caller()}); err != nil {
				return err
			}
			continue
		}
		line = r.AppendText(line[:0], format)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f.stats && d != nil {
		n, calls := d.ReadStats()
		fmt.Fprintf(s.Err, "read %d bytes in %d reads\n", n, calls)
	}
	if lg.Partial {
		fmt.Fprintf(s.Err, "warning: the log is partial (%d records read):\n", len(lg.Records))
		for _, w := range lg.Warnings {
			fmt.Fprintf(s.Err, "warning:   %s\n", w)
		}
	}
	return nil
}

// jsonRecord is one line of `vmcorectl log --json`.
type jsonRecord struct {
	*analysis.Record
	Time      string `json:"time"`
	LevelName string `json:"level_name"`
	Caller    string `json:"caller,omitempty"`
}
