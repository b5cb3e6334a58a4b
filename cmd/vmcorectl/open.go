package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/client"
	"github.com/vmcore/vmcore/api/wire"
)

// runOpen asks vmcored for a one-time login link to a crash's page in the
// web UI, prints it, and on a desktop opens it in the browser: a terminal
// user reaches the browser view in one step, without pasting a token into
// a login form. The link logs in as the token that asked for it (a viewer
// or admin token), works once, and expires after --ttl.
func runOpen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("open", "ID", stderr)
	srv := addServerFlags(fs, false)
	ttl := fs.Duration("ttl", 2*time.Minute, "how long the link works (1s to 10m)")
	printOnly := fs.Bool("print", false, "print the link only, even on a desktop")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || !dumpIDPattern.MatchString(rest[0]) {
		fs.Usage()
		return fmt.Errorf("%w: give one dump id (16 hex digits, as vmcorectl ls prints them)", errUsage)
	}
	if *ttl < time.Second || *ttl > 10*time.Minute {
		return fmt.Errorf("%w: --ttl is 1s to 10m", errUsage)
	}
	server := strings.TrimRight(srv.serverURL(), "/")
	if server == "" {
		return fmt.Errorf("%w: no server: give --server or set VMCORE_SERVER", errUsage)
	}
	hc, err := srv.httpClient()
	if err != nil {
		return err
	}
	req := map[string]any{"dump_id": rest[0], "ttl_seconds": int(ttl.Seconds())}
	var res struct {
		Path    string    `json:"path"`
		Expires time.Time `json:"expires"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := postJSON(ctx, hc, server+"/api/v1/login-links", srv.tokenValue(), req, &res); err != nil {
		return err
	}
	if !strings.HasPrefix(res.Path, "/links/") {
		return fmt.Errorf("the server answered with no link (%q)", res.Path)
	}
	link := server + res.Path
	fmt.Fprintln(stdout, link)
	if *printOnly || (os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "") {
		fmt.Fprintf(stderr, "open it in a browser within %s; it works once\n", time.Until(res.Expires).Round(time.Second))
		return nil
	}
	// xdg-open hands the link to the desktop's browser; it is not waited
	// for, since with some browsers it returns only when the browser ends.
	cmd := exec.Command("xdg-open", link)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "could not start xdg-open (%v): open the link yourself\n", err)
		return nil
	}
	cmd.Process.Release()
	return nil
}

func (o *serverOpts) tokenValue() string {
	if *o.token != "" {
		return *o.token
	}
	return confValue("VMCORE_TOKEN")
}

// httpClient is an HTTP client with the server options (CA bundle, proxy,
// --resolve) that api/client applies: api/client has no call for a JSON
// POST whose answer the caller reads.
func (o *serverOpts) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	ca := *o.caFile
	if ca == "" {
		ca = confValue("VMCORE_CA_FILE")
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", ca)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	proxy := *o.proxy
	if proxy == "" {
		proxy = confValue("VMCORE_PROXY")
	}
	if proxy != "" {
		p, err := url.Parse(proxy)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		tr.Proxy = http.ProxyURL(p)
	}
	res, err := client.ParseResolve(o.resolve)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(res) > 0 {
		d := &net.Dialer{Timeout: 30 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ip, ok := res[addr]; ok {
				_, port, _ := net.SplitHostPort(addr)
				addr = net.JoinHostPort(ip, port)
			}
			return d.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr}, nil
}

// postJSON sends in as JSON with the token and decodes the JSON answer
// into out; an error answer becomes its message.
func postJSON(ctx context.Context, hc *http.Client, u, token string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e wire.Error
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &client.StatusError{Code: resp.StatusCode, Message: msg}
	}
	return json.Unmarshal(body, out)
}
