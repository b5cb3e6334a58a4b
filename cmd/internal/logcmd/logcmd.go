// Package logcmd is `vmcorectl log`: its flags, reading the kernel log of
// local dump files, and printing records as makedumpfile --dump-dmesg,
// crash's log and dmesg do. vmcorectl runs it in process for local files;
// vmcorectl-full runs it too, and adds the server's logs.
package logcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/cmd/internal/command"
	"github.com/vmcore/vmcore/vmcore"
)

// Flags are the options of `vmcorectl log`.
type Flags struct {
	Wall, Level, Caller *bool
	Levels              *string
	Since, Until        *float64
	JSON                *bool
	Color               *string
	Stats               *bool
	Server              *command.ServerFlags
}

// NewFlags is the flag set of `vmcorectl log`, the flags that reach the
// server included: both binaries parse the same command line.
func NewFlags(stderr io.Writer) (*flag.FlagSet, *Flags) {
	fs := command.NewFlagSet("log", "DUMP [DUMP...] | ID", stderr)
	return fs, &Flags{
		Wall:   fs.Bool("T", false, "print wall-clock times (crash time minus uptime) instead of seconds since boot"),
		Level:  fs.Bool("m", false, "print each record's level as <N>, like crash's log -m"),
		Caller: fs.Bool("c", false, "print the caller (task T<pid> or CPU C<n>) of each record"),
		Levels: fs.String("level", "", "only these levels: a name or number, a comma list, or NAME+ for that level and worse (err, warn+, 0-3)"),
		Since:  fs.Float64("since", -1, "only records at or after this many seconds since boot"),
		Until:  fs.Float64("until", -1, "only records at or before this many seconds since boot"),
		JSON:   fs.Bool("json", false, "print one JSON object per record"),
		Color:  fs.String("color", "auto", "colour by level: auto (on a terminal), always, never"),
		Stats:  fs.Bool("stats", false, "print to standard error how much of the dump was read"),
		Server: command.AddServerFlags(fs, true),
	}
}

// Plain reports whether the log is asked for exactly as the kernel wrote
// it: no option changes what a line holds or which lines print.
func (f *Flags) Plain() bool {
	return !*f.Wall && !*f.Level && !*f.Caller && *f.Levels == "" && *f.Since < 0 && *f.Until < 0 && !*f.JSON
}

// AllFiles reports whether every argument is a file that exists: then they
// are a local dump, never the ID of a dump on the server.
func AllFiles(args []string) bool {
	for _, a := range args {
		if st, err := os.Stat(a); err != nil || st.IsDir() {
			return false
		}
	}
	return len(args) > 0
}

// Check reports a mistake in the flags' values, before any dump is read.
func (f *Flags) Check() error {
	if *f.Levels != "" {
		if _, err := analysis.ParseLevel(*f.Levels); err != nil {
			return fmt.Errorf("%w: %v", command.ErrUsage, err)
		}
	}
	_, err := command.UseColor(*f.Color, io.Discard)
	return err
}

// RunLocal prints the kernel log of the dump in files.
func (f *Flags) RunLocal(files []string, stdout, stderr io.Writer) error {
	if err := f.Check(); err != nil {
		return err
	}
	d, err := command.OpenDump(files, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	lg, err := printk.ReadLog(context.Background(), d)
	if err != nil {
		return err
	}
	var crash time.Time
	if d.Info != nil {
		if ct, ok := d.Info.CrashTime(); ok {
			crash = time.Unix(ct, 0)
		}
	}
	return f.Print(lg, crash, d, stdout, stderr)
}

// Print prints lg as the flags ask; crash is the crash time, for -T (zero
// when unknown), and d the dump it was read from, for --stats (nil for a
// log from the server).
func (f *Flags) Print(lg *printk.Log, crash time.Time, d *vmcore.Dump, stdout, stderr io.Writer) error {
	var accept map[int]bool
	if *f.Levels != "" {
		var err error
		if accept, err = analysis.ParseLevel(*f.Levels); err != nil {
			return fmt.Errorf("%w: %v", command.ErrUsage, err)
		}
	}
	colorOn, err := command.UseColor(*f.Color, stdout)
	if err != nil {
		return err
	}
	format := analysis.LogFormat{Level: *f.Level, Caller: *f.Caller, Color: colorOn}
	if *f.Wall {
		if crash.IsZero() {
			return fmt.Errorf("-T needs the crash time, and this dump's VMCOREINFO has no CRASHTIME")
		}
		format.WallClock = true
		format.Boot = analysis.BootTime(lg.Records, crash).Local()
	}
	bw := bufio.NewWriterSize(stdout, 32<<10)
	enc := json.NewEncoder(bw)
	var line []byte
	for i := range lg.Records {
		r := &lg.Records[i]
		if accept != nil && !accept[r.Level] {
			continue
		}
		if *f.Since >= 0 && float64(r.TimeNS)/1e9 < *f.Since {
			continue
		}
		if *f.Until >= 0 && float64(r.TimeNS)/1e9 > *f.Until {
			continue
		}
		if *f.JSON {
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
	if *f.Stats && d != nil {
		n, calls := d.ReadStats()
		fmt.Fprintf(stderr, "read %d bytes in %d reads\n", n, calls)
	}
	if lg.Partial {
		fmt.Fprintf(stderr, "warning: the log is partial (%d records read):\n", len(lg.Records))
		for _, w := range lg.Warnings {
			fmt.Fprintf(stderr, "warning:   %s\n", w)
		}
	}
	return nil
}

// jsonRecord is one line of `vmcorectl log --json`.
type jsonRecord struct {
	*printk.Record
	Time      string `json:"time"`
	LevelName string `json:"level_name"`
	Caller    string `json:"caller,omitempty"`
}
