package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/store"
)

// tmpDir is where this process expands compressed dumps; it is emptied
// at every start.
func (s *Server) tmpDir() string { return filepath.Join(s.cfg.DataDir, "tmp") }

// sweepTemp removes what a killed process left in the data directory's
// temporary places: expansions of compressed dumps (which have no name on
// unix, but have one elsewhere) and debuginfo being fetched. It runs
// before anything else uses them; the data directory's lock says no
// other process does.
func (s *Server) sweepTemp() error {
	// The caches the analyzer and the debuginfo finder fill are made
	// here, the owner's alone, before they make them with their modes.
	for _, d := range []string{s.tmpDir(), filepath.Join(s.cfg.DataDir, "cache", "profiles"), filepath.Join(s.cfg.DataDir, "cache", "debuginfo")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("api: data directory: %w", err)
		}
	}
	var files int
	var bytes int64
	rm := func(path string, info os.FileInfo) {
		if os.RemoveAll(path) == nil {
			files++
			bytes += info.Size()
		}
	}
	ents, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return fmt.Errorf("api: temporary directory: %w", err)
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			rm(filepath.Join(s.tmpDir(), e.Name()), info)
		}
	}
	cache := filepath.Join(s.cfg.DataDir, "cache", "debuginfo")
	filepath.Walk(cache, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), "fetch-") {
			rm(p, info)
		}
		return nil
	})
	if files > 0 {
		s.log.Warn("removed temporary files a stopped process left", "files", files, "bytes", bytes)
	}
	return nil
}

// maintenanceEvery is how often the maintenance runs.
const maintenanceEvery = time.Minute

// maintain runs Maintain until ctx ends.
func (s *Server) maintain(ctx context.Context) {
	defer s.maintenance.Done()
	t := time.NewTicker(maintenanceEvery)
	defer t.Stop()
	for {
		if _, err := s.Maintain(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("maintenance", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Maintenance counts what one Maintain did.
type Maintenance struct {
	// Deleted is how many deletions it finished (their objects removed).
	Deleted int
	// Expired is how many abandoned uploads it removed.
	Expired int
	// Retired is how many dumps older than the retention it deleted.
	Retired int
}

// maintenanceBatch bounds the rows one Maintain takes of each kind.
const maintenanceBatch = 500

// Maintain does, as of now, what the service does on its own: it
// removes the objects of deleted dumps that are still stored, the
// uploads without activity for UploadTTL (with their parts), and with a
// Retention the dumps uploaded longer ago than it. Every step is
// idempotent: several API processes may run it at once.
func (s *Server) Maintain(ctx context.Context, now time.Time) (Maintenance, error) {
	var m Maintenance
	var errs []error
	stale, err := s.db.StaleUploads(ctx, now.Add(-s.cfg.UploadTTL), maintenanceBatch)
	errs = append(errs, err)
	for _, id := range stale {
		if _, err := s.db.DeleteDump(ctx, id); err == nil {
			m.Expired++
			s.metrics.uploads.WithLabelValues("expired").Inc()
			s.log.Info("abandoned upload removed", "dump", id)
		} else if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if s.cfg.Retention > 0 {
		old, err := s.db.DumpsUploadedBefore(ctx, now.Add(-s.cfg.Retention), maintenanceBatch)
		errs = append(errs, err)
		for _, id := range old {
			if _, err := s.db.DeleteDump(ctx, id); err == nil {
				m.Retired++
				s.metrics.retired.Inc()
			} else if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		if m.Retired > 0 {
			s.log.Info("dumps past the retention deleted", "dumps", m.Retired, "retention", s.cfg.Retention)
		}
	}
	dels, err := s.db.Deletions(ctx, maintenanceBatch)
	errs = append(errs, err)
	for _, d := range dels {
		if err := s.removeObjects(ctx, d); err != nil {
			errs = append(errs, err)
			continue
		}
		m.Deleted++
	}
	return m, errors.Join(errs...)
}

// removeObjects removes everything stored for a deleted dump, then the
// deletion's record.
func (s *Server) removeObjects(ctx context.Context, d store.Deletion) error {
	if d.UploadID != "" {
		if err := s.blobs.Abort(ctx, dumpKey(d.DumpID), d.UploadID); err != nil {
			return err
		}
	}
	keys := []string{dumpKey(d.DumpID), dmesgKey(d.DumpID), indexKey(d.DumpID)}
	for run := 1; run <= d.Runs; run++ {
		keys = append(keys, analysisKey(d.DumpID, run), logKey(d.DumpID, run))
	}
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			return err
		}
	}
	return s.db.DeletionDone(ctx, d.DumpID)
}

// deleteDump deletes a dump: its row at once, its objects then (or by a
// later Maintain when the store fails now).
func (s *Server) deleteDumpNow(ctx context.Context, id string) error {
	d, err := s.db.DeleteDump(ctx, id)
	if err != nil {
		return err
	}
	if err := s.removeObjects(ctx, d); err != nil {
		s.log.Warn("the deleted dump's objects will be removed later", "dump", id, "err", err)
	}
	return nil
}
