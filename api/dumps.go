package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vmcore/vmcore/api/blob"
	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/api/wire"
)

func (s *Server) listDumps(c echo.Context) error {
	q := c.QueryParams()
	dq, err := dumpQuery(c)
	if err != nil {
		return err
	}
	f := &dq.Filter
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return echo.NewHTTPError(http.StatusBadRequest, "limit must be a positive number")
		}
	}
	if v := q.Get("offset"); v != "" {
		if f.Offset, err = strconv.Atoi(v); err != nil || f.Offset < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "offset must be a number")
		}
	}
	dumps, total, err := s.db.SearchDumps(c.Request().Context(), dq)
	if err != nil {
		return err
	}
	st, err := s.triageStatuses(c.Request().Context(), dumps)
	if err != nil {
		return err
	}
	for i := range dumps {
		dumps[i].Triage = st[dumps[i].ID]
	}
	return c.JSON(http.StatusOK, wire.DumpList{Dumps: dumps, Total: total})
}

// timeParam reads RFC 3339 or Unix seconds.
func timeParam(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("time %q is neither RFC 3339 nor Unix seconds", v))
}

// Detail returns a dump and the steps of its latest run; the UI uses it.
func (s *Server) Detail(ctx context.Context, id string) (wire.DumpDetail, error) {
	d, err := s.db.GetDump(ctx, id)
	if err != nil {
		return wire.DumpDetail{}, err
	}
	steps, err := s.db.Steps(ctx, id, d.Run)
	if err != nil {
		return wire.DumpDetail{}, err
	}
	return wire.DumpDetail{Dump: d, Steps: steps}, nil
}

func (s *Server) getDump(c echo.Context) error {
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	dd, err := s.Detail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, dd)
}

// Result opens the newest stored result object of a dump (the analysis
// document or the log text), from the current run or, while it is still
// being analysed, an earlier one.
func (s *Server) Result(ctx context.Context, id string, key func(string, int) string) (blob.Object, error) {
	d, err := s.db.GetDump(ctx, id)
	if err != nil {
		return nil, err
	}
	for run := d.Run; run >= 1 && run > d.Run-5; run-- {
		o, err := s.blobs.Open(ctx, key(id, run))
		if err == nil {
			return o, nil
		} else if !errors.Is(err, blob.ErrNotFound) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("api: dump %s has no result yet: %w", id, blob.ErrNotFound)
}

func (s *Server) sendObject(c echo.Context, o blob.Object, contentType string) error {
	defer o.Close()
	c.Response().Header().Set(echo.HeaderContentLength, strconv.FormatInt(o.Size(), 10))
	return c.Stream(http.StatusOK, contentType, io.NewSectionReader(o, 0, o.Size()))
}

// getLog sends the kernel log: the analysed one, or until there is one the
// vmcore-dmesg.txt the uploader sent first (the X-Vmcore-Log-Source header
// says which).
func (s *Server) getLog(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	o, err := s.Result(ctx, id, logKey)
	source := "vmcore"
	if errors.Is(err, blob.ErrNotFound) {
		o, err = s.blobs.Open(ctx, dmesgKey(id))
		source = "vmcore-dmesg.txt"
		if errors.Is(err, blob.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no kernel log yet")
		}
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Vmcore-Log-Source", source)
	return s.sendObject(c, o, "text/plain; charset=utf-8")
}

func (s *Server) getDmesg(c echo.Context) error {
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	o, err := s.blobs.Open(c.Request().Context(), dmesgKey(id))
	if err != nil {
		return err
	}
	return s.sendObject(c, o, "text/plain; charset=utf-8")
}

func (s *Server) getAnalysis(c echo.Context) error {
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	o, err := s.Result(c.Request().Context(), id, analysisKey)
	if err != nil {
		return err
	}
	return s.sendObject(c, o, echo.MIMEApplicationJSON)
}

func (s *Server) downloadDump(c echo.Context) error {
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	o, err := s.blobs.Open(c.Request().Context(), dumpKey(id))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="vmcore-%s"`, id))
	return s.sendObject(c, o, echo.MIMEOctetStream)
}

func (s *Server) rerun(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	run, err := s.db.Rerun(ctx, id)
	if err != nil {
		return err
	}
	if err := s.queue.Enqueue(ctx, store.AnalyzeJob{DumpID: id, Run: run}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, wire.CompleteResponse{DumpID: id, Run: run})
}

func (s *Server) deleteDump(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := dumpParam(c)
	if err != nil {
		return err
	}
	d, err := s.db.GetDump(ctx, id)
	if err != nil {
		return err
	}
	if d.Status == store.StatusUploading {
		s.blobs.Abort(ctx, dumpKey(id), d.UploadID)
	}
	keys := []string{dumpKey(id), dmesgKey(id), indexKey(id)}
	for run := 1; run <= d.Run; run++ {
		keys = append(keys, analysisKey(id, run), logKey(id, run))
	}
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			return err
		}
	}
	if err := s.db.DeleteDump(ctx, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) putDebuginfo(c echo.Context) error {
	id := c.Param("buildid")
	if !buildIDPattern.MatchString(id) {
		return echo.NewHTTPError(http.StatusBadRequest, "not a build-id")
	}
	if c.Request().ContentLength < 0 {
		return echo.NewHTTPError(http.StatusLengthRequired, "Content-Length is required")
	}
	if err := s.blobs.Put(c.Request().Context(), debuginfoKey(id), c.Request().Body, c.Request().ContentLength); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
