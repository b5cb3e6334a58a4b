// Package debuginfo finds a kernel build's DWARF vmlinux by GNU build-id:
// in local stores, then from debuginfod servers over HTTP. It is apart
// from package analyzer, which reads what it finds and knows nothing of
// HTTP.
package debuginfo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmcore/vmcore/analyzer"
)

// ErrNoDebuginfo means no store and no debuginfod server had the build.
var ErrNoDebuginfo = errors.New("debuginfo: no debuginfo found for the build-id")

// Finder finds a kernel build's DWARF vmlinux by GNU build-id: in
// local stores first, then from debuginfod servers, whose answers are
// cached so each build is downloaded once.
type Finder struct {
	// Stores are local directories holding debuginfo by build-id, in any of
	// the usual layouts: <dir>/<id>/debuginfo (debuginfod's cache and ours),
	// <dir>/.build-id/<id[:2]>/<id[2:]>.debug and
	// <dir>/usr/lib/debug/.build-id/… (a /usr/lib/debug tree, as -dbg
	// packages install), or vmlinux-* images under <dir>/boot or
	// <dir>/usr/lib/debug/boot, whose build-ids are checked.
	Stores []string
	// Servers are debuginfod base URLs (DEBUGINFOD_URLS).
	Servers []string
	// Cache is where downloads are kept: <Cache>/<id>/debuginfo.
	Cache string
	// Client makes the requests; nil means a client with a 10-minute timeout.
	Client *http.Client
	// TempDir is where an xz-compressed vmlinux is decompressed to check
	// its build-id; "" means the system's temporary directory.
	TempDir string
}

// Find returns the path of the debuginfo for buildID, downloading it if
// needed. It checks a found file's own build-id before returning it.
func (f *Finder) Find(ctx context.Context, buildID string) (string, error) {
	id := strings.ToLower(buildID)
	if !analyzer.IsBuildID(id) {
		return "", fmt.Errorf("debuginfo: %q is not a build-id", buildID)
	}
	dirs := append([]string{f.Cache}, f.Stores...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		cands := []string{
			filepath.Join(d, id, "debuginfo"),
			filepath.Join(d, ".build-id", id[:2], id[2:]+".debug"),
			filepath.Join(d, "usr", "lib", "debug", ".build-id", id[:2], id[2:]+".debug"),
		}
		// A -dbg package unpacked without its .build-id links.
		for _, g := range []string{"boot/vmlinux-*", "usr/lib/debug/boot/vmlinux-*"} {
			m, _ := filepath.Glob(filepath.Join(d, g))
			cands = append(cands, m...)
		}
		for _, p := range cands {
			if f.matchesBuildID(p, id) {
				return p, nil
			}
		}
	}
	var errs []error
	for _, s := range f.Servers {
		p, err := f.fetch(ctx, s, id)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%w %s: %w", ErrNoDebuginfo, id, errors.Join(errs...))
	}
	return "", fmt.Errorf("%w %s (stores %v; set DEBUGINFOD_URLS to ask a debuginfod server)", ErrNoDebuginfo, id, f.Stores)
}

func (f *Finder) matchesBuildID(path, id string) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	v, err := analyzer.OpenVmlinux(path, f.TempDir)
	if err != nil {
		return false
	}
	defer v.Close()
	return v.BuildID == id
}

// fetch downloads <server>/buildid/<id>/debuginfo (the debuginfod
// protocol) into the cache: streamed to a temporary file, checked, then
// renamed, so a broken download never leaves a file that looks whole.
func (f *Finder) fetch(ctx context.Context, server, id string) (string, error) {
	if f.Cache == "" {
		return "", errors.New("no cache directory for downloads")
	}
	url := strings.TrimRight(server, "/") + "/buildid/" + id + "/debuginfo"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	dir := filepath.Join(f.Cache, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if !f.matchesBuildID(tmp.Name(), id) {
		return "", fmt.Errorf("%s: the server's file is not build %s", url, id)
	}
	p := filepath.Join(dir, "debuginfo")
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	return p, nil
}
