package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// errSlowBody cuts off a body that arrives slower than the service
// accepts.
var errSlowBody = errors.New("the request body arrived too slowly")

// bodyDeadline bounds how long a request body may take: it must keep
// coming (no stall longer than BodyIdle) and, after a grace of BodyIdle,
// at MinBodyRate on average. A slow or stalled client (one byte every few
// seconds) is cut off instead of holding a connection and a temporary
// file for as long as it likes.
func (s *Server) bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			return next(c)
		}
		rc := http.NewResponseController(c.Response())
		b := &deadlineBody{r: r.Body, rc: rc, start: time.Now(), idle: s.cfg.BodyIdle, rate: s.cfg.MinBodyRate}
		if err := b.extend(); err != nil {
			return next(c) // a connection without deadlines (HTTP/2 over some proxies)
		}
		r.Body = b
		err := next(c)
		if b.cut {
			// Let the server close the connection instead of reading
			// the rest of a body that did not come at the rate.
			rc.SetReadDeadline(time.Now())
		} else {
			rc.SetReadDeadline(time.Time{})
		}
		return err
	}
}

// deadlineBody moves the connection's read deadline along as the body
// arrives, and refuses to go on below the minimum rate.
type deadlineBody struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	idle  time.Duration
	rate  int64
	n     int64
	cut   bool // the body failed: stalled, too slow, or broken
}

func (b *deadlineBody) extend() error { return b.rc.SetReadDeadline(time.Now().Add(b.idle)) }

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil {
		b.cut = err != io.EOF
		return n, err
	}
	allowed := b.idle + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second))
	if elapsed := time.Since(b.start); elapsed > allowed {
		b.cut = true
		return n, fmt.Errorf("%w: %d bytes in %s, less than %d bytes/s", errSlowBody, b.n, elapsed.Round(time.Second), b.rate)
	}
	b.extend()
	return n, nil
}

func (b *deadlineBody) Close() error { return b.r.Close() }
