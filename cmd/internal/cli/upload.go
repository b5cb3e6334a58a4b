package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/spf13/cobra"

	"github.com/vmcore/vmcore/api/client"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/vmcore"
)

// uploadedMarker is written into a dump directory once its dump is stored,
// so `upload --scan` sends each dump once.
const uploadedMarker = ".uploaded"

func newUploadCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "upload PATH | --scan DIR", Short: "Send a dump (a file or a kdump directory) to vmcored",
		Long: `Send a dump to vmcored: a dump file, or a kdump directory (RHEL's vmcore and vmcore-dmesg.txt,
Debian's dump.STAMP and dmesg.STAMP, SUSE's vmcore and dmesg). The kernel log goes first, then the
dump in resumable parts; an interrupted upload resumes where it stopped. The last line printed is
the dump's id. --scan sends every dump directory under DIR not marked uploaded yet (what the
boot-time hook runs). Settings missing from the environment are read from /etc/vmcore/upload.conf.`,
		GroupID: "server", Args: rangeArgs(0, 1, "PATH")}
	fs := c.Flags()
	srv := addServerFlags(fs, false)
	scan := fs.String("scan", "", "upload every dump under `DIR` not uploaded yet (the boot-time path)")
	timeout := fs.Duration("timeout", 0, "give up after this long (a kdump hook must let the machine reboot); 0: no limit")
	rate := fs.Int64("limit-rate", 0, "send at most this many `bytes` per second")
	state := fs.String("state", "", "resume-state `file` (default: beside the dump, else in $TMPDIR)")
	c.RunE = func(c *cobra.Command, paths []string) error {
		if (*scan == "") == (len(paths) == 0) {
			return usageError("give one PATH or --scan DIR")
		}
		return upload(c.Context(), s, srv, paths, *scan, *timeout, *rate, *state)
	}
	return c
}

// upload sends one dump, or every new one under scan.
func upload(ctx context.Context, s IO, srv *serverFlags, paths []string, scan string, timeout time.Duration, rate int64, state string) error {
	stdout := s.Out
	c, err := srv.client()
	if err != nil {
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if scan != "" {
		return scanUpload(ctx, c, scan, s)
	}
	id, err := uploadPath(ctx, c, paths[0], state, rate, s)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id) // the last line of standard output is the dump id
	return nil
}

// scanUpload uploads the dump of every directory under root that has no
// marker yet; one failure does not stop the others.
func scanUpload(ctx context.Context, c *client.Client, root string, s IO) error {
	stdout, stderr := s.Out, s.Err
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, uploadedMarker)); err == nil {
			continue
		}
		if _, _, err := findDumpFiles(dir); err != nil {
			continue // not a dump directory
		}
		id, err := uploadPath(ctx, c, dir, "", 0, s)
		if err != nil {
			fmt.Fprintf(stderr, "vmcorectl upload: %s: %v\n", dir, err)
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", dir, id)
	}
	return errors.Join(errs...)
}

// findDumpFiles finds the dump and its kernel log in a kdump directory:
// RHEL's vmcore and vmcore-dmesg.txt, Debian's dump.STAMP[.xz…] and
// dmesg.STAMP, SUSE's vmcore and dmesg (dmesg.txt in older releases).
func findDumpFiles(dir string) (dump, dmesg string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", "", err
	}
	var dumps []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case !e.Type().IsRegular():
		case n == "vmcore-dmesg.txt" || n == "dmesg" || n == "dmesg.txt" || strings.HasPrefix(n, "dmesg.") && dmesg == "":
			dmesg = filepath.Join(dir, n)
		case n == "vmcore" || strings.HasPrefix(n, "dump.") || strings.HasPrefix(n, "vmcore.") && !strings.HasSuffix(n, ".upload-state"):
			dumps = append(dumps, filepath.Join(dir, n))
		}
	}
	if len(dumps) == 0 {
		return "", "", fmt.Errorf("%s holds no vmcore or dump.* file", dir)
	}
	sort.Strings(dumps) // "vmcore" sorts after "dump.*"; RHEL directories have only vmcore
	return dumps[0], dmesg, nil
}

// uploadPath uploads a dump file or a kdump directory and returns the id.
func uploadPath(ctx context.Context, c *client.Client, path, state string, rate int64, s IO) (string, error) {
	stderr := s.Err
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	f := client.UploadFile{Path: path, State: state, RateLimit: rate}
	if st.IsDir() {
		dir = path
		if f.Path, f.Dmesg, err = findDumpFiles(path); err != nil {
			return "", err
		}
	} else if _, dm, err := findDumpFiles(dir); err == nil {
		f.Dmesg = dm
	}
	if strings.HasSuffix(f.Path, "-incomplete") {
		return "", fmt.Errorf("%s is an incomplete dump (kdump did not finish it)", f.Path)
	}
	if f.State == "" && !writable(filepath.Dir(f.Path)) {
		f.State = filepath.Join(os.TempDir(), "vmcore-upload-"+strings.ReplaceAll(f.Path, "/", "_"))
	}
	f.Facts, f.Index = readFacts(f.Path, s)
	f.Facts.Filename = filepath.Base(f.Path)

	size := st.Size()
	if fi, err := os.Stat(f.Path); err == nil {
		size = fi.Size()
	}
	prog := newProgress(s, size)
	f.Progress = prog.update
	res, err := c.Upload(ctx, f)
	prog.finish(err)
	if err != nil {
		return "", err
	}
	if res.Duplicate {
		fmt.Fprintln(stderr, s.printer().T("cli.upload.duplicate", "ID", res.DumpID))
	}
	if st.IsDir() {
		os.WriteFile(filepath.Join(dir, uploadedMarker), []byte(res.DumpID+"\n"), 0o644)
	}
	return res.DumpID, nil
}

func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".vmcorectl-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// readFacts reads what the dump says about itself, so the service lists it
// before its bytes arrive, and indexes a flattened dump. A container
// (.xz, .gz…) is not opened: that would mean decompressing it here, in
// the capture kernel's memory; the worker reads its facts instead.
func readFacts(path string, s IO) (wire.UploadRequest, []byte) {
	var req wire.UploadRequest
	f, err := os.Open(path)
	if err != nil {
		return req, nil
	}
	defer f.Close()
	if vmcore.Container(f) != "" {
		return req, nil
	}
	st, err := f.Stat()
	if err != nil {
		return req, nil
	}
	// A flattened dump is scanned once: its index is sent along and opens
	// the dump here too.
	var index []byte
	var d *vmcore.Dump
	if idx, ierr := vmcore.ScanFlattened(f, st.Size()); ierr == nil {
		if index, err = idx.MarshalBinary(); err != nil {
			index = nil
		}
		d, err = vmcore.NewFlattenedReader(f, st.Size(), idx)
	} else {
		d, err = vmcore.NewReader(f, st.Size())
	}
	if err != nil {
		fmt.Fprintln(s.Err, s.printer().T("cli.upload.unreadable", "Path", path, "Error", err.Error()))
		return req, index
	}
	defer d.Close()
	h := d.Header
	req.Hostname, req.Release = h.Utsname.Nodename, h.Utsname.Release
	if d.Info != nil {
		req.BuildID = d.Info.BuildID()
		if req.Release == "" {
			req.Release = d.Info.OSRelease()
		}
		if ct, ok := d.Info.CrashTime(); ok {
			req.CrashTime = time.Unix(ct, 0).UTC()
		}
	}
	return req, index
}

// progress shows an upload's progress: a bar on a terminal, else a line
// every 10% (the capture kernel's console is kept in a log).
type progress struct {
	bar   *pb.ProgressBar
	s     IO
	w     io.Writer
	total int64
	last  int64
}

func newProgress(s IO, total int64) *progress {
	w := s.Err
	p := &progress{s: s, w: w, total: total, last: -1}
	if isTerminal(w) {
		p.bar = pb.New64(total).SetTemplate(pb.Full).Set(pb.Bytes, true).SetWriter(w).Start()
	}
	return p
}

func (p *progress) update(done, total int64) {
	if p.bar != nil {
		p.bar.SetCurrent(done)
		return
	}
	if total <= 0 {
		return
	}
	if step := done * 10 / total; step != p.last {
		p.last = step
		fmt.Fprintln(p.w, p.s.printer().T("cli.upload.progress", "Percent", step*10, "Done", done, "Total", total))
	}
}

func (p *progress) finish(err error) {
	if p.bar != nil {
		p.bar.Finish()
	}
}
