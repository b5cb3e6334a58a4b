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

	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/vmcore"
)

func runLog(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("log", "DUMP [DUMP...] | ID", stderr)
	wall := fs.Bool("T", false, "print wall-clock times (crash time minus uptime) instead of seconds since boot")
	level := fs.Bool("m", false, "print each record's level as <N>, like crash's log -m")
	caller := fs.Bool("c", false, "print the caller (task T<pid> or CPU C<n>) of each record")
	levels := fs.String("level", "", "only these levels: a name or number, a comma list, or NAME+ for that level and worse (err, warn+, 0-3)")
	since := fs.Float64("since", -1, "only records at or after this many seconds since boot")
	until := fs.Float64("until", -1, "only records at or before this many seconds since boot")
	asJSON := fs.Bool("json", false, "print one JSON object per record")
	color := fs.String("color", "auto", "colour by level: auto (on a terminal), always, never")
	stats := fs.Bool("stats", false, "print to standard error how much of the dump was read")
	src, err := parseSource(fs, args)
	if errors.Is(err, errNotAnalysed) && !*wall && !*level && !*caller && *levels == "" && *since < 0 && *until < 0 && !*asJSON {
		// Not analysed yet: the vmcore-dmesg.txt sent first is the log.
		c, err := src.srv.Client()
		if err != nil {
			return err
		}
		return c.Get(context.Background(), "/api/v1/dumps/"+src.remote+"/log", stdout)
	} else if err != nil {
		return err
	}
	var accept map[int]bool
	if *levels != "" {
		if accept, err = analyzer.ParseLevel(*levels); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	colorOn, err := useColor(*color, stdout)
	if err != nil {
		return err
	}
	var lg *analyzer.Log
	var crash time.Time
	var d *vmcore.Dump
	if a := src.analysis; a != nil {
		lg = &analyzer.Log{Records: a.Log}
		if a.System != nil && a.System.Date != nil {
			crash = *a.System.Date
		}
	} else {
		if d, err = openDump(src.files, stderr); err != nil {
			return err
		}
		defer d.Close()
		if lg, err = analyzer.ReadLog(d); err != nil {
			return err
		}
		if d.Info != nil {
			if ct, ok := d.Info.CrashTime(); ok {
				crash = time.Unix(ct, 0)
			}
		}
	}
	f := analyzer.LogFormat{Level: *level, Caller: *caller, Color: colorOn}
	if *wall {
		if crash.IsZero() {
			return fmt.Errorf("-T needs the crash time, and this dump's VMCOREINFO has no CRASHTIME")
		}
		f.WallClock = true
		f.Boot = lg.BootTime(crash).Local()
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
	if *stats && d != nil {
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
