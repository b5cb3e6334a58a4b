package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/vmcore/vmcore/analyzer/printk"
	"github.com/vmcore/vmcore/cmd/internal/command"
	"github.com/vmcore/vmcore/cmd/internal/logcmd"
)

// runLog is `vmcorectl log` of local files (as vmcorectl runs it itself)
// or of a dump on the server.
func runLog(args []string, stdout, stderr io.Writer) error {
	fs, f := logcmd.NewFlags(stderr)
	files, err := command.ParseDumpArgs(fs, args)
	if err != nil {
		return err
	}
	srv := &ServerOpts{f.Server}
	id, remote := srv.remoteID(files)
	if !remote {
		return f.RunLocal(files, stdout, stderr)
	}
	if err := f.Check(); err != nil {
		return err
	}
	a, err := srv.analysis(context.Background(), id)
	if errors.Is(err, errNotAnalysed) && f.Plain() {
		// Not analysed yet: the vmcore-dmesg.txt sent first is the log.
		c, err := srv.Client()
		if err != nil {
			return err
		}
		return c.Get(context.Background(), "/api/v1/dumps/"+id+"/log", stdout)
	} else if err != nil {
		return err
	}
	var crash time.Time
	if a.System != nil && a.System.Date != nil {
		crash = *a.System.Date
	}
	return f.Print(&printk.Log{Records: a.Log}, crash, nil, stdout, stderr)
}
