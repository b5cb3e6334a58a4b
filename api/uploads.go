package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/internal/diskspace"
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
	owner := c.Get(ctxTokenID).(string)
	if n, _, err := s.db.OpenUploads(ctx, owner); err != nil {
		return err
	} else if n >= s.cfg.MaxOpenUploads {
		return echo.NewHTTPError(http.StatusTooManyRequests,
			fmt.Sprintf("this token has %d uploads in progress, the most it may; finish them or let them expire", n))
	}
	if err := s.roomFor(req.Size); err != nil {
		return err
	}
	id := newDumpID()
	uploadID, err := s.blobs.NewUpload(ctx, dumpKey(id))
	if err != nil {
		return err
	}
	d := store.Dump{ID: id, Status: store.StatusUploading, Size: req.Size, Filename: clip(req.Filename, 256),
		Hostname: clip(req.Hostname, 256), Release: clip(req.Release, 128), BuildID: clip(req.BuildID, 128),
		CrashTime: req.CrashTime, UploadID: uploadID, PartSize: blob.PartSize(req.Size, s.cfg.PartSize),
		Uploader: c.Get(ctxToken).(string), Owner: owner}
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

// roomFor refuses, with 507, a dump the filesystem store has no room for
// while keeping MinFreeSpace free.
func (s *Server) roomFor(size int64) error {
	fs, ok := s.blobs.(*blob.FS)
	if !ok || s.cfg.MinFreeSpace < 0 {
		return nil
	}
	free, err := diskspace.Free(fs.Dir())
	if err != nil {
		return nil
	}
	if free-s.cfg.MinFreeSpace < size {
		s.log.Warn("upload refused: no room", "size", size, "free", free, "keep", s.cfg.MinFreeSpace)
		return errInsufficientStorage
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func numParts(d store.Dump) int { return int((d.Size + d.PartSize - 1) / d.PartSize) }

// joined says whether the upload's object is already whole: a completion
// joined its parts and stopped before it recorded so.
func (s *Server) joined(ctx context.Context, d store.Dump) bool {
	size, err := s.blobs.Stat(ctx, dumpKey(d.ID))
	return err == nil && size == d.Size
}

// uploadState lists the stored parts and presigns up to urls missing ones.
func (s *Server) uploadState(ctx context.Context, d store.Dump, urls int) (wire.Upload, error) {
	up := wire.Upload{DumpID: d.ID, Status: d.Status, Size: d.Size, PartSize: d.PartSize, Done: []wire.Part{}}
	if d.Status != store.StatusUploading {
		return up, nil
	}
	up.Parts = numParts(d)
	parts, err := s.blobs.ListParts(ctx, dumpKey(d.ID), d.UploadID)
	if errors.Is(err, blob.ErrNotFound) && s.joined(ctx, d) {
		for n := 1; n <= up.Parts; n++ {
			up.Done = append(up.Done, wire.Part{Number: n, Size: partLen(d, n)})
		}
		return up, nil
	} else if err != nil {
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

// errNoUpload answers a request for an upload that does not exist or is
// another token's: an upload belongs to the token that registered it.
var errNoUpload = echo.NewHTTPError(http.StatusNotFound, "no such upload")

// ownedUpload returns the dump of the :id upload if the request's token
// registered it.
func (s *Server) ownedUpload(c echo.Context) (store.Dump, error) {
	id, err := dumpParam(c)
	if err != nil {
		return store.Dump{}, err
	}
	d, err := s.db.GetDump(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return d, errNoUpload
	} else if err != nil {
		return d, err
	}
	if owner, _ := c.Get(ctxTokenID).(string); owner == "" || owner != d.Owner {
		return store.Dump{}, errNoUpload
	}
	return d, nil
}

// uploadingDump returns the owned dump of an upload still in progress.
func (s *Server) uploadingDump(c echo.Context) (store.Dump, error) {
	d, err := s.ownedUpload(c)
	if err != nil {
		return d, err
	}
	if d.Status != store.StatusUploading {
		return d, echo.NewHTTPError(http.StatusConflict, "the upload is complete")
	}
	return d, nil
}

func (s *Server) getUpload(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.ownedUpload(c)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(c.QueryParam("urls"))
	if n <= 0 || n > 1000 {
		n = 64
	}
	if err := s.db.TouchUpload(ctx, d.ID); err != nil {
		return err
	}
	up, err := s.uploadState(ctx, d, n)
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
	if errors.Is(err, blob.ErrNotFound) && s.joined(ctx, d) {
		// A completion joined the parts already: this one is held.
		return c.JSON(http.StatusOK, wire.Part{Number: n, Size: want})
	} else if err != nil {
		return err
	}
	if err := s.db.TouchUpload(ctx, d.ID); err != nil {
		return err
	}
	s.metrics.bytes.Add(float64(p.Size))
	return c.JSON(http.StatusOK, wire.Part{Number: p.Number, Size: p.Size})
}

// putSide stores one of the small objects sent beside the dump, while
// the upload is in progress and by its owner only.
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
		return err
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

// completeUpload ends an upload. Completing is idempotent and survives a
// client that hangs up: it runs to the end whatever the request does, a
// second request for the same upload waits for the first's answer, and a
// request after a completion cut short by a crash finishes what is left.
// The bytes stored are hashed: only a dump whose SHA-256 is what the
// client sent is compared with the others and queued.
func (s *Server) completeUpload(c echo.Context) error {
	d, err := s.ownedUpload(c)
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
	ctx := context.WithoutCancel(c.Request().Context())
	res, err, _ := s.completing.Do(d.ID, func() (any, error) {
		res, err := s.finishUpload(ctx, d, req.SHA256)
		return completion{res, req.SHA256}, err
	})
	if err != nil {
		return err
	}
	if done := res.(completion); done.claimed == req.SHA256 {
		return c.JSON(http.StatusOK, done.res)
	}
	return echo.NewHTTPError(http.StatusConflict, "the upload is being completed with another sha256")
}

// completion is the answer of a completion to the requests that waited
// for it, with the hash it was asked for.
type completion struct {
	res     wire.CompleteResponse
	claimed string
}

// finishUpload joins the parts (unless a completion before did), checks
// the whole object's SHA-256 against the client's, and records the dump
// as queued with its analysis job in one transaction, or drops it for
// the stored dump with the same bytes.
func (s *Server) finishUpload(ctx context.Context, d store.Dump, claimed string) (wire.CompleteResponse, error) {
	if !s.joined(ctx, d) {
		parts, err := s.blobs.ListParts(ctx, dumpKey(d.ID), d.UploadID)
		if errors.Is(err, blob.ErrNotFound) {
			return wire.CompleteResponse{}, echo.NewHTTPError(http.StatusNotFound, "the upload's parts are gone; upload the dump again")
		} else if err != nil {
			return wire.CompleteResponse{}, err
		}
		if len(parts) != numParts(d) {
			return wire.CompleteResponse{}, echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("%d of %d parts are stored", len(parts), numParts(d)))
		}
		for i, p := range parts {
			if p.Number != i+1 || p.Size != partLen(d, p.Number) {
				return wire.CompleteResponse{}, echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("part %d is missing or has the wrong size", i+1))
			}
		}
		if err := s.blobs.Complete(ctx, dumpKey(d.ID), d.UploadID, parts); err != nil {
			return wire.CompleteResponse{}, err
		}
		if size, err := s.blobs.Stat(ctx, dumpKey(d.ID)); err != nil || size != d.Size {
			return wire.CompleteResponse{}, fmt.Errorf("api: stored dump %s has %d bytes, want %d: %v", d.ID, size, d.Size, err)
		}
	}
	sum, err := s.hashObject(ctx, dumpKey(d.ID))
	if err != nil {
		return wire.CompleteResponse{}, err
	}
	if sum != claimed {
		s.metrics.uploads.WithLabelValues("corrupt").Inc()
		s.log.Warn("upload refused: its bytes are not what the client hashed", "dump", d.ID, "stored", sum, "claimed", claimed)
		return wire.CompleteResponse{}, echo.NewHTTPError(http.StatusUnprocessableEntity,
			fmt.Sprintf("the bytes stored have SHA-256 %s, not the %s sent", sum, claimed))
	}
	if other, err := s.db.DumpBySHA256(ctx, sum); err == nil && other.ID != d.ID {
		return s.dropDuplicate(ctx, d, other)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return wire.CompleteResponse{}, err
	}
	run, err := s.db.CompleteUpload(ctx, s.queue, d.ID, sum)
	switch {
	case errors.Is(err, store.ErrConflict):
		other, err := s.db.DumpBySHA256(ctx, sum)
		if err != nil {
			return wire.CompleteResponse{}, err
		}
		return s.dropDuplicate(ctx, d, other)
	case errors.Is(err, store.ErrNotFound):
		// Completed meanwhile by another API process.
		now, err := s.db.GetDump(ctx, d.ID)
		if err != nil {
			return wire.CompleteResponse{}, err
		}
		return wire.CompleteResponse{DumpID: now.ID, Run: now.Run}, nil
	case err != nil:
		return wire.CompleteResponse{}, err
	}
	s.metrics.uploads.WithLabelValues("completed").Inc()
	s.log.Info("upload complete", "dump", d.ID, "sha256", sum)
	return wire.CompleteResponse{DumpID: d.ID, Run: run}, nil
}

// hashObject reads a stored object through and returns its SHA-256.
func (s *Server) hashObject(ctx context.Context, key string) (string, error) {
	r, err := s.blobs.Stream(ctx, key)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, blob.ContextReader(ctx, r), make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("api: hashing %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// dropDuplicate removes an upload whose bytes another dump already has and
// answers with that dump: identical dumps are stored once.
func (s *Server) dropDuplicate(ctx context.Context, d, other store.Dump) (wire.CompleteResponse, error) {
	if err := s.deleteDumpNow(ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return wire.CompleteResponse{}, err
	}
	s.metrics.uploads.WithLabelValues("duplicate").Inc()
	s.log.Info("upload is a duplicate", "dump", d.ID, "of", other.ID)
	return wire.CompleteResponse{DumpID: other.ID, Run: other.Run, Duplicate: true}, nil
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
