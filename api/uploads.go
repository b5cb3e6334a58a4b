package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/vmcore"
)

// Object keys. Results are kept per run, so a re-run never overwrites what
// people are reading until it has finished.
func dumpKey(id string) string      { return "dumps/" + id + "/vmcore" }
func dmesgKey(id string) string     { return "dumps/" + id + "/vmcore-dmesg.txt" }
func indexKey(id string) string     { return "dumps/" + id + "/flat.idx" }
func debuginfoKey(id string) string { return "debuginfo/" + id + "/debuginfo" }
func analysisKey(id string, run int) string {
	return fmt.Sprintf("results/%s/%d/analysis.json", id, run)
}
func logKey(id string, run int) string { return fmt.Sprintf("results/%s/%d/log.txt", id, run) }

var (
	idPattern     = regexp.MustCompile(`^[0-9a-f]{16}$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func newDumpID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dumpParam reads and checks the :id path parameter.
func dumpParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if !idPattern.MatchString(id) {
		return "", echo.NewHTTPError(http.StatusNotFound, "no such dump")
	}
	return id, nil
}

func (s *Server) createUpload(c echo.Context) error {
	ctx := c.Request().Context()
	var req wire.UploadRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if req.Size <= 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "size must be positive")
	}
	if s.cfg.MaxUploadSize > 0 && req.Size > s.cfg.MaxUploadSize {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("a dump of %d bytes is larger than this service's limit of %d", req.Size, s.cfg.MaxUploadSize))
	}
	if req.SHA256 != "" {
		if !sha256Pattern.MatchString(req.SHA256) {
			return echo.NewHTTPError(http.StatusBadRequest, "sha256 must be 64 lower-case hex digits")
		}
		if d, err := s.db.DumpBySHA256(ctx, req.SHA256); err == nil {
			return c.JSON(http.StatusOK, wire.Upload{DumpID: d.ID, Status: d.Status, Size: d.Size, Existing: true, Done: []wire.Part{}})
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	id := newDumpID()
	uploadID, err := s.blobs.NewUpload(ctx, dumpKey(id))
	if err != nil {
		return err
	}
	d := store.Dump{ID: id, Status: store.StatusUploading, Size: req.Size, Filename: clip(req.Filename, 256),
		Hostname: clip(req.Hostname, 256), Release: clip(req.Release, 128), BuildID: clip(req.BuildID, 128),
		CrashTime: req.CrashTime, UploadID: uploadID, PartSize: blob.PartSize(req.Size, s.cfg.PartSize),
		Uploader: c.Get("token").(string)}
	if err := s.db.CreateDump(ctx, d); err != nil {
		return err
	}
	s.metrics.uploads.WithLabelValues("started").Inc()
	s.log.Info("upload registered", "dump", id, "size", req.Size, "host", d.Hostname, "release", d.Release)
	up, err := s.uploadState(ctx, d, 64)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, up)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func numParts(d store.Dump) int { return int((d.Size + d.PartSize - 1) / d.PartSize) }

// uploadState lists the stored parts and presigns up to urls missing ones.
func (s *Server) uploadState(ctx context.Context, d store.Dump, urls int) (wire.Upload, error) {
	up := wire.Upload{DumpID: d.ID, Status: d.Status, Size: d.Size, PartSize: d.PartSize, Done: []wire.Part{}}
	if d.Status != store.StatusUploading {
		return up, nil
	}
	up.Parts = numParts(d)
	parts, err := s.blobs.ListParts(ctx, dumpKey(d.ID), d.UploadID)
	if err != nil {
		return up, err
	}
	have := map[int]bool{}
	for _, p := range parts {
		if p.Size == partLen(d, p.Number) {
			up.Done = append(up.Done, wire.Part{Number: p.Number, Size: p.Size})
			have[p.Number] = true
		}
	}
	for n := 1; n <= up.Parts && urls > 0; n++ {
		if have[n] {
			continue
		}
		u, err := s.blobs.PartURL(ctx, dumpKey(d.ID), d.UploadID, n, time.Hour)
		if err != nil {
			return up, err
		}
		if u == "" {
			break
		}
		if up.URLs == nil {
			up.URLs = map[int]string{}
		}
		up.URLs[n] = u
		urls--
	}
	return up, nil
}

// partLen is the size part n must have.
func partLen(d store.Dump, n int) int64 {
	return min(d.PartSize, d.Size-int64(n-1)*d.PartSize)
}

// uploadingDump returns the dump of an upload in progress.
func (s *Server) uploadingDump(c echo.Context) (store.Dump, error) {
	id, err := dumpParam(c)
	if err != nil {
		return store.Dump{}, err
	}
	d, err := s.db.GetDump(c.Request().Context(), id)
	if err != nil {
		return d, err
	}
	return d, nil
}

func (s *Server) getUpload(c echo.Context) error {
	d, err := s.uploadingDump(c)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(c.QueryParam("urls"))
	if n <= 0 || n > 1000 {
		n = 64
	}
	up, err := s.uploadState(c.Request().Context(), d, n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, up)
}

func (s *Server) putPart(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.uploadingDump(c)
	if err != nil {
		return err
	}
	if d.Status != store.StatusUploading {
		return echo.NewHTTPError(http.StatusConflict, "the upload is complete")
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 || n > numParts(d) {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("part number must be 1..%d", numParts(d)))
	}
	want := partLen(d, n)
	if c.Request().ContentLength != want {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("part %d must be %d bytes, not %d", n, want, c.Request().ContentLength))
	}
	var sum []byte
	if h := c.Request().Header.Get("Content-MD5"); h != "" {
		if sum, err = base64.StdEncoding.DecodeString(h); err != nil || len(sum) != 16 {
			return echo.NewHTTPError(http.StatusBadRequest, "bad Content-MD5")
		}
	}
	p, err := s.blobs.PutPart(ctx, dumpKey(d.ID), d.UploadID, n, c.Request().Body, want, sum)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return err
		}
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	s.metrics.bytes.Add(float64(p.Size))
	return c.JSON(http.StatusOK, wire.Part{Number: p.Number, Size: p.Size})
}

// putSide stores one of the small objects sent beside the dump.
func (s *Server) putSide(c echo.Context, key func(string) string, dmesg, index bool) error {
	ctx := c.Request().Context()
	d, err := s.uploadingDump(c)
	if err != nil {
		return err
	}
	if c.Request().ContentLength < 0 {
		return echo.NewHTTPError(http.StatusLengthRequired, "Content-Length is required")
	}
	if err := s.blobs.Put(ctx, key(d.ID), c.Request().Body, c.Request().ContentLength); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if err := s.db.SetFlags(ctx, d.ID, dmesg, index); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) putDmesg(c echo.Context) error { return s.putSide(c, dmesgKey, true, false) }

// putIndex stores the chunk index of a flattened dump, made by the
// uploader while it read the file anyway, so that no worker scans the
// whole object (vmcore.NewFlattenedReader checks it against the dump).
func (s *Server) putIndex(c echo.Context) error { return s.putSide(c, indexKey, false, true) }

func (s *Server) completeUpload(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.uploadingDump(c)
	if err != nil {
		return err
	}
	var req wire.CompleteRequest
	if err := c.Bind(&req); err != nil {
		return err
	}
	if !sha256Pattern.MatchString(req.SHA256) {
		return echo.NewHTTPError(http.StatusBadRequest, "sha256 must be 64 lower-case hex digits")
	}
	if d.Status != store.StatusUploading {
		// A client whose first completion's answer was lost asks again.
		if d.SHA256 == req.SHA256 {
			return c.JSON(http.StatusOK, wire.CompleteResponse{DumpID: d.ID, Run: d.Run})
		}
		return echo.NewHTTPError(http.StatusConflict, "the upload is already complete")
	}
	if other, err := s.db.DumpBySHA256(ctx, req.SHA256); err == nil {
		return s.dropDuplicate(c, d, other)
	}
	parts, err := s.blobs.ListParts(ctx, dumpKey(d.ID), d.UploadID)
	if err != nil {
		return err
	}
	if len(parts) != numParts(d) {
		return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("%d of %d parts are stored", len(parts), numParts(d)))
	}
	for i, p := range parts {
		if p.Number != i+1 || p.Size != partLen(d, p.Number) {
			return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("part %d is missing or has the wrong size", i+1))
		}
	}
	if err := s.blobs.Complete(ctx, dumpKey(d.ID), d.UploadID, parts); err != nil {
		return err
	}
	if size, err := s.blobs.Stat(ctx, dumpKey(d.ID)); err != nil || size != d.Size {
		return fmt.Errorf("api: stored dump %s has %d bytes, want %d: %v", d.ID, size, d.Size, err)
	}
	run, err := s.db.CompleteUpload(ctx, d.ID, req.SHA256)
	if errors.Is(err, store.ErrConflict) {
		other, err := s.db.DumpBySHA256(ctx, req.SHA256)
		if err != nil {
			return err
		}
		return s.dropDuplicate(c, d, other)
	} else if err != nil {
		return err
	}
	if err := s.queue.Enqueue(ctx, store.AnalyzeJob{DumpID: d.ID, Run: run}); err != nil {
		return err
	}
	s.metrics.uploads.WithLabelValues("completed").Inc()
	s.log.Info("upload complete", "dump", d.ID, "sha256", req.SHA256)
	return c.JSON(http.StatusOK, wire.CompleteResponse{DumpID: d.ID, Run: run})
}

// dropDuplicate removes an upload whose bytes another dump already has and
// answers with that dump: identical dumps are stored once.
func (s *Server) dropDuplicate(c echo.Context, d, other store.Dump) error {
	ctx := c.Request().Context()
	s.blobs.Abort(ctx, dumpKey(d.ID), d.UploadID)
	for _, k := range []string{dumpKey(d.ID), dmesgKey(d.ID), indexKey(d.ID)} {
		s.blobs.Delete(ctx, k)
	}
	if err := s.db.DeleteDump(ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.metrics.uploads.WithLabelValues("duplicate").Inc()
	s.log.Info("upload is a duplicate", "dump", d.ID, "of", other.ID)
	return c.JSON(http.StatusOK, wire.CompleteResponse{DumpID: other.ID, Run: other.Run, Duplicate: true})
}

func (s *Server) loadIndex(ctx context.Context, id string) (*vmcore.FlatIndex, error) {
	o, err := s.blobs.Open(ctx, indexKey(id))
	if err != nil {
		return nil, err
	}
	defer o.Close()
	if o.Size() > 256<<20 {
		return nil, fmt.Errorf("flattened index of %d bytes", o.Size())
	}
	b := make([]byte, o.Size())
	if _, err := o.ReadAt(b, 0); err != nil {
		return nil, err
	}
	idx := new(vmcore.FlatIndex)
	if err := idx.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return idx, nil
}
