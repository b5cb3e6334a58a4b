// Package client talks to vmcored: it uploads dumps in resumable parts and
// reads dumps and analyses back. It depends on nothing of the server but
// the wire types, so the static uploader that runs in a capture kernel
// stays small.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// Options configure a Client.
type Options struct {
	// CAFile is a PEM bundle trusted for the server's certificate, for
	// capture kernels that have no system CA store.
	CAFile string
	// Resolve maps host:port to ip (curl's --resolve), for capture
	// kernels without DNS; TLS still checks the host name.
	Resolve map[string]string
	// Proxy is an HTTP proxy URL; empty means the environment's.
	Proxy string
	// Retries is how many times a failed request is tried again.
	Retries int
}

// Client is a vmcored API client.
type Client struct {
	server  *url.URL
	token   string
	http    *http.Client
	retries int
}

// New makes a client for server (http[s]://host:port) with a token.
func New(server, token string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server %q is not an http(s) URL", server)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: %s holds no PEM certificate", o.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if o.Proxy != "" {
		p, err := url.Parse(o.Proxy)
		if err != nil {
			return nil, fmt.Errorf("client: proxy: %w", err)
		}
		tr.Proxy = http.ProxyURL(p)
	}
	if len(o.Resolve) > 0 {
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ip, ok := o.Resolve[addr]; ok {
				_, port, _ := net.SplitHostPort(addr)
				addr = net.JoinHostPort(ip, port)
			}
			return dialer.DialContext(ctx, network, addr)
		}
	}
	retries := o.Retries
	if retries <= 0 {
		retries = 8
	}
	return &Client{server: u, token: token, http: &http.Client{Transport: tr}, retries: retries}, nil
}

// ParseResolve reads curl-style host:port:ip entries.
func ParseResolve(entries []string) (map[string]string, error) {
	m := map[string]string{}
	for _, e := range entries {
		i := strings.LastIndex(e, ":")
		if strings.HasSuffix(e, "]") { // an IPv6 address in brackets
			i = strings.LastIndex(e, ":[")
		}
		if i < 0 {
			return nil, fmt.Errorf("client: --resolve %q is not host:port:ip", e)
		}
		hostport, ip := e[:i], e[i+1:]
		if _, _, err := net.SplitHostPort(hostport); err != nil || net.ParseIP(strings.Trim(ip, "[]")) == nil {
			return nil, fmt.Errorf("client: --resolve %q is not host:port:ip", e)
		}
		m[hostport] = strings.Trim(ip, "[]")
	}
	return m, nil
}

// StatusError is an error answer from the server.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("server: %d %s", e.Code, e.Message) }

// IsNotFound says whether err is a 404 answer.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// retryable says whether a failed request may succeed if tried again:
// network errors and 5xx, 408 and 429 answers.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return false // an untrusted certificate stays untrusted
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// backoff waits before attempt n (from 1): exponential with full jitter,
// capped at 30 s, as S3 clients do.
func backoff(ctx context.Context, n int) error {
	d := min(200*time.Millisecond<<min(n, 8), 30*time.Second)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(d)) + int64(d)/2))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do sends a request built by mk (called again on every retry, so a body
// can be re-read) and decodes a JSON answer into out when out is not nil,
// or returns the raw body to raw when raw is not nil.
func (c *Client) do(ctx context.Context, mk func() (*http.Request, error), out any, raw io.Writer) error {
	var err error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			if werr := backoff(ctx, attempt); werr != nil {
				return errors.Join(err, werr)
			}
		}
		err = c.once(ctx, mk, out, raw)
		if err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

func (c *Client) once(ctx context.Context, mk func() (*http.Request, error), out any, raw io.Writer) error {
	req, err := mk()
	if err != nil {
		return err
	}
	req = req.WithContext(ctx)
	if req.URL.Host == c.server.Host && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e wire.Error
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &StatusError{Code: resp.StatusCode, Message: msg}
	}
	if raw != nil {
		_, err = io.Copy(raw, resp.Body)
		return err
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
			return fmt.Errorf("client: decoding %s answer: %w", req.URL.Path, err)
		}
	}
	return nil
}

// url joins an API path, which may carry a query ("…?urls=64"), and
// more query parameters to the server's URL.
func (c *Client) url(path string, q url.Values) string {
	u := *c.server
	path, raw, _ := strings.Cut(path, "?")
	u.Path += path
	if pq, err := url.ParseQuery(raw); err == nil && len(pq) > 0 {
		if q == nil {
			q = url.Values{}
		}
		for k, v := range pq {
			q[k] = append(q[k], v...)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// call sends a JSON request (in may be nil) to the API.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	return c.do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(method, c.url(path, nil), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}, out, nil)
}

// Post sends in as JSON to an API path and decodes the JSON answer into
// out (may be nil).
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	return c.call(ctx, http.MethodPost, path, in, out)
}

// Dump returns a dump and the steps of its latest analysis.
func (c *Client) Dump(ctx context.Context, id string) (wire.DumpDetail, error) {
	var d wire.DumpDetail
	err := c.call(ctx, http.MethodGet, "/api/v1/dumps/"+url.PathEscape(id), nil, &d)
	return d, err
}

// List lists dumps; filter holds the query parameters (host, release,
// signature, status, since, until, limit, offset).
func (c *Client) List(ctx context.Context, filter url.Values) (wire.DumpList, error) {
	var l wire.DumpList
	err := c.do(ctx, func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, c.url("/api/v1/dumps", filter), nil)
	}, &l, nil)
	return l, err
}

// Get copies the body of an API path (the log text, the analysis
// document) to w.
func (c *Client) Get(ctx context.Context, path string, w io.Writer) error {
	var buf bytes.Buffer // a retry must not repeat what w already got
	err := c.do(ctx, func() (*http.Request, error) {
		buf.Reset()
		return http.NewRequest(http.MethodGet, c.url(path, nil), nil)
	}, nil, &buf)
	if err != nil {
		return err
	}
	_, err = buf.WriteTo(w)
	return err
}

// Wait polls a dump until its analysis is done or failed.
func (c *Client) Wait(ctx context.Context, id string, every time.Duration) (wire.DumpDetail, error) {
	for {
		d, err := c.Dump(ctx, id)
		if err != nil {
			return d, err
		}
		if d.Status == "done" || d.Status == "failed" {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(every):
		}
	}
}
