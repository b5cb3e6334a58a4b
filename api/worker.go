package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/analyzer"
	"github.com/vmcore/vmcore/analyzer/debuginfo"
	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/vmcore"
)

var buildIDPattern = regexp.MustCompile(`^[0-9a-f]{8,80}$`)

// maxAttempts matches store.AnalyzeJob's MaxAttempts: the last attempt
// records a failure instead of asking River to retry.
const maxAttempts = 5

// stepRecorder writes each step's state as the analysis goes, so a slow or
// failed analysis shows where it is or what broke, and the metrics see
// each step's time.
type stepRecorder struct {
	s   *Server
	ctx context.Context
	id  string
	run int
	seq int
	idx map[string]int
}

func (r *stepRecorder) put(name string, done *analysis.Step) {
	if done == nil && r.s.cfg.StepDelay > 0 {
		time.Sleep(r.s.cfg.StepDelay)
	}
	seq, ok := r.idx[name]
	if !ok {
		seq = r.seq
		r.idx[name] = seq
		r.seq++
	}
	st := store.Step{Name: name, Status: "running"}
	if done != nil {
		st.Seconds, st.Error, st.Status = done.Seconds, done.Error, "ok"
		if done.Error != "" {
			st.Status = "failed"
			r.s.metrics.failures.WithLabelValues(name).Inc()
		}
		r.s.metrics.steps.WithLabelValues(name).Observe(done.Seconds)
	}
	if err := r.s.db.PutStep(r.ctx, r.id, r.run, seq, st); err != nil {
		r.s.log.Warn("recording a step", "dump", r.id, "step", name, "err", err)
	}
}

// step runs fn as a named step.
func (r *stepRecorder) step(name string, fn func() error) error {
	r.put(name, nil)
	start := time.Now()
	err := fn()
	t := analysis.Step{Name: name, Seconds: time.Since(start).Seconds()}
	if err != nil {
		t.Error = err.Error()
	}
	r.put(name, &t)
	return err
}

// analyze is the worker's job: open the dump where it lies, analyse it,
// store the document and the log, and summarise it in the database.
// Everything it writes is keyed by (dump, run), so running it twice for the
// same job gives the same state.
func (s *Server) analyze(ctx context.Context, job store.AnalyzeJob, attempt int) error {
	err := s.analyzeOnce(ctx, job, attempt)
	if err != nil {
		s.log.Warn("analysis attempt failed; it will be retried", "dump", job.DumpID, "run", job.Run, "attempt", attempt, "err", err)
	}
	return err
}

func (s *Server) analyzeOnce(ctx context.Context, job store.AnalyzeJob, attempt int) error {
	d, err := s.db.GetDump(ctx, job.DumpID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	} else if err != nil {
		return err
	}
	if d.Run != job.Run {
		return nil // a newer run superseded this one
	}
	log := s.log.With("dump", d.ID, "run", d.Run, "attempt", attempt)
	log.Info("analysis started")
	if err := s.db.SetStatus(ctx, d.ID, d.Run, store.StatusAnalyzing); err != nil {
		return err
	}
	rec := &stepRecorder{s: s, ctx: ctx, id: d.ID, run: d.Run, idx: map[string]int{}}
	var dump *vmcore.Dump
	var obj blob.Object
	err = rec.step("identify", func() error {
		var err error
		dump, obj, err = s.openDump(ctx, d)
		return err
	})
	if err != nil {
		if permanent(err) || attempt >= maxAttempts {
			log.Warn("analysis failed", "err", err)
			return s.db.SetResult(ctx, d.ID, d.Run, store.Result{Status: store.StatusFailed, Error: "identify: " + err.Error()})
		}
		return fmt.Errorf("api: opening dump %s: %w", d.ID, err) // River retries with backoff
	}
	defer obj.Close()
	defer dump.Close()

	var v *analyzer.Vmlinux
	rec.step("find debuginfo", func() error {
		var err error
		v, err = s.findDebuginfo(ctx, dump)
		return err
	})
	if v != nil {
		defer v.Close()
	}
	rel := dump.Header.Utsname.Release
	if rel == "" && dump.Info != nil {
		rel = dump.Info.OSRelease()
	}
	a := analyzer.Analyze(ctx, dump, analyzer.Options{Vmlinux: v, ModuleDirs: analyzer.ModuleDebuginfoDirs(s.cfg.DebuginfoStores, rel),
		ProfileDir: filepath.Join(s.cfg.DataDir, "cache", "profiles"), Progress: rec.put})
	if ctx.Err() != nil {
		return ctx.Err() // lease expired or shutting down: let River retry
	}
	sig := ""
	rec.step("signature", func() error {
		sig = kb.Signature(a)
		return nil
	})
	rec.step("kb", func() error {
		sugg, err := s.suggest(ctx, a, sig)
		if sugg != nil {
			a.KB = sugg
		}
		return err
	})
	if err := rec.step("store", func() error { return s.storeResults(ctx, d, a) }); err != nil {
		return err // transient: the object store or database is down
	}
	res := store.Result{Status: store.StatusDone, Signature: sig}
	if a.Oops != nil {
		res.OopsType = a.Oops.Type
	}
	if a.System != nil {
		res.Panic, res.Hostname, res.Release = a.System.Panic, a.System.Nodename, a.System.Release
		if a.System.Date != nil {
			res.CrashTime = *a.System.Date
		}
	}
	if res.Panic == "" && a.Oops != nil {
		res.Panic = a.Oops.Title
	}
	res.BuildID = a.Dump.BuildID
	if len(a.Log) == 0 && a.System == nil {
		res.Status, res.Error = store.StatusFailed, strings.Join(a.Warnings, "; ")
	}
	_, err = s.db.BucketOf(ctx, sig)
	newBucket := sig != "" && errors.Is(err, store.ErrNotFound)
	if _, err := s.db.EnsureBucket(ctx, sig); err != nil {
		return err
	}
	stats, reqs := dump.ReadStats()
	log.Info("analysis done", "signature", sig, "bytes_read", stats, "reads", reqs, "dump_size", d.Size)
	if err := s.db.SetResult(ctx, d.ID, d.Run, res); err != nil {
		return err
	}
	release := res.Release
	if release == "" {
		release = d.Release
	}
	s.arrived(ctx, arrival{dump: d, signature: sig, release: release, newBucket: newBucket, doc: a})
	return nil
}

// permanent says an error comes from the dump's bytes, not from the
// infrastructure: trying again would fail the same way.
func permanent(err error) bool {
	var fe *vmcore.FormatError
	return errors.As(err, &fe) || errors.Is(err, vmcore.ErrUnknownFormat)
}

// openDump opens the stored dump by ranged reads, through its flattened
// index when the uploader sent one.
func (s *Server) openDump(ctx context.Context, d store.Dump) (*vmcore.Dump, blob.Object, error) {
	obj, err := s.blobs.Open(ctx, dumpKey(d.ID))
	if err != nil {
		return nil, nil, err
	}
	var dump *vmcore.Dump
	if d.HasIndex {
		idx, ierr := s.loadIndex(ctx, d.ID)
		if ierr != nil {
			obj.Close()
			return nil, nil, fmt.Errorf("flattened index: %w", ierr)
		}
		dump, err = vmcore.NewFlattenedReader(obj, obj.Size(), idx)
	} else {
		dump, err = vmcore.NewReader(obj, obj.Size())
	}
	if err != nil {
		obj.Close()
		return nil, nil, err
	}
	return dump, obj, nil
}

// findDebuginfo looks for the dump's vmlinux: uploaded to the service,
// then in the configured stores and debuginfod servers. None found is no
// error: the analysis then uses the dump's own BTF and kallsyms.
func (s *Server) findDebuginfo(ctx context.Context, d *vmcore.Dump) (*analyzer.Vmlinux, error) {
	if d.Info == nil || d.Info.BuildID() == "" {
		return nil, nil
	}
	id := strings.ToLower(d.Info.BuildID())
	cache := filepath.Join(s.cfg.DataDir, "cache", "debuginfo")
	if err := s.fetchDebuginfo(ctx, id, filepath.Join(cache, id, "debuginfo")); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return nil, err
	}
	f := &debuginfo.Finder{Stores: s.cfg.DebuginfoStores, Servers: s.cfg.DebuginfodURLs, Cache: cache}
	path, err := f.Find(ctx, id)
	if errors.Is(err, debuginfo.ErrNoDebuginfo) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return analyzer.OpenVmlinux(path, "")
}

// fetchDebuginfo copies uploaded debuginfo to the local cache once.
func (s *Server) fetchDebuginfo(ctx context.Context, id, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	o, err := s.blobs.Open(ctx, debuginfoKey(id))
	if err != nil {
		return err
	}
	defer o.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, io.NewSectionReader(o, 0, o.Size())); err != nil {
		return fmt.Errorf("fetching debuginfo %s: %w", id, err)
	}
	return os.Rename(f.Name(), dst)
}

func (s *Server) storeResults(ctx context.Context, d store.Dump, a *analysis.Document) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	// The log text is makedumpfile's --dump-dmesg format, as vmcorectl
	// log prints it.
	var logText bytes.Buffer
	var line []byte
	for i := range a.Log {
		line = a.Log[i].AppendText(line[:0], analysis.LogFormat{})
		logText.Write(line)
	}
	if err := s.blobs.Put(ctx, logKey(d.ID, d.Run), &logText, int64(logText.Len())); err != nil {
		return err
	}
	return s.blobs.Put(ctx, analysisKey(d.ID, d.Run), bytes.NewReader(doc), int64(len(doc)))
}
