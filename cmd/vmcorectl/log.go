package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analyzer"
)

func runLog(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log", "DUMP [DUMP...]", stderr)
	wall := fs.Bool("T", false, "print wall-clock times (crash time minus uptime) instead of seconds since boot")
	level := fs.Bool("m", false, "print each record's level as <N>, like crash's log -m")
	caller := fs.Bool("c", false, "print the caller (task T<pid> or CPU C<n>) of each record")
	levels := fs.String("level", "", "only these levels: a name or number, a comma list, or NAME+ for that level and worse (err, warn+, 0-3)")
	since := fs.Float64("since", -1, "only records at or after this many seconds since boot")
	until := fs.Float64("until", -1, "only records at or before this many seconds since boot")
	asJSON := fs.Bool("json", false, "print one JSON object per record")
	color := fs.String("color", "auto", "colour by level: auto (on a terminal), always, never")
	stats := fs.Bool("stats", false, "print to standard error how much of the dump was read")
	files, err := parseDumpArgs(fs, args)
	if err != nil {
		return err
	}
	var accept map[int]bool
	if *levels != "" {
		if accept, err = analyzer.ParseLevel(*levels); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	colorOn, err := useColor(*color, stdout)
	if err != nil {
		return err
	}
	d, err := openDump(files, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	lg, err := analyzer.ReadLog(d)
	if err != nil {
		return err
	}
	f := analyzer.LogFormat{Level: *level, Caller: *caller, Color: colorOn}
	if *wall {
		ct, ok := d.Info.CrashTime()
		if !ok {
			return fmt.Errorf("-T needs the crash time, and this dump's VMCOREINFO has no CRASHTIME")
		}
		f.WallClock = true
		f.Boot = lg.BootTime(time.Unix(ct, 0)).Local()
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	enc := json.NewEncoder(bw)
	var line []byte
	for i := range lg.Records {
		r := &lg.Records[i]
		if accept != nil && !accept[r.Level] {
			continue
		}
		if *since >= 0 && float64(r.TimeNS)/1e9 < *since {
			continue
		}
		if *until >= 0 && float64(r.TimeNS)/1e9 > *until {
			continue
		}
		if *asJSON {
			if err := enc.Encode(jsonRecord{r, strings.TrimSpace(r.Timestamp()), analyzer.LevelName(r.Level), r.Caller()}); err != nil {
				return err
			}
			continue
		}
		line = r.AppendText(line[:0], f)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if *stats {
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
	*analyzer.Record
	Time      string `json:"time"`
	LevelName string `json:"level_name"`
	Caller    string `json:"caller,omitempty"`
}
