package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmcore/vmcore/internal/dumpwrite"
)

// The fault suite's killed daemons and concurrent uploaders: vmcored is
// killed with SIGKILL while it writes a part, joins an upload, analyses a
// dump and expands a gzip bomb, then started again on its data directory.
// Each test reports what it did and what was lost ("reliability:" lines,
// collected in docs/reliability.md).

func report(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("reliability: %s: %s", t.Name(), fmt.Sprintf(format, args...))
}

// upload is one upload in progress, driven by the test over HTTP.
type upload struct {
	DumpID   string            `json:"dump_id"`
	PartSize int64             `json:"part_size"`
	Parts    int               `json:"parts"`
	URLs     map[string]string `json:"urls"`
}

// register and send every part of data; the completion is the caller's.
func sendUpload(t *testing.T, d *daemon, token string, data []byte) upload {
	t.Helper()
	var up upload
	if code := apiCall(t, "POST", d.url()+"/api/v1/uploads", token, map[string]any{"size": len(data)}, &up); code != 201 {
		t.Fatalf("register: %d", code)
	}
	for n := 1; n <= up.Parts; n++ {
		off := int64(n-1) * up.PartSize
		chunk := data[off:min(off+up.PartSize, int64(len(data)))]
		sum := md5.Sum(chunk)
		target := up.URLs[fmt.Sprint(n)]
		if target == "" {
			target = fmt.Sprintf("%s/api/v1/uploads/%s/parts/%d", d.url(), up.DumpID, n)
		}
		req, _ := http.NewRequest("PUT", target, bytes.NewReader(chunk))
		if up.URLs[fmt.Sprint(n)] == "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("part %d: %s", n, resp.Status)
		}
	}
	return up
}

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// complete asks for the completion; err is a broken connection.
func complete(d *daemon, token, id, sum string) (int, error) {
	b, _ := json.Marshal(map[string]string{"sha256": sum})
	req, _ := http.NewRequest("POST", d.url()+"/api/v1/uploads/"+id+"/complete", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// leftovers lists what a data directory holds besides whole objects:
// temporary files and uploads in progress.
func leftovers(dir string) []string {
	var out []string
	for _, sub := range []string{"tmp", "objects/tmp", "objects/uploads"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

// completionPhase says how far a killed completion had gone, from what
// the data directory holds.
func completionPhase(data, id string) string {
	if _, err := os.Stat(filepath.Join(data, "objects", "objects", "dumps", id, "vmcore")); err == nil {
		return "after the join"
	}
	seals, _ := filepath.Glob(filepath.Join(data, "objects", "uploads", "*", "parts.json"))
	if len(seals) > 0 {
		return "during the join"
	}
	return "before the join"
}

// TestFaultKilledDaemon kills the embedded vmcored while it writes a
// part, joins an upload and analyses a dump, and starts it again on the
// same data directory: the temporary files are swept, the completion
// finishes when the client asks again, the analysis starts again at once
// (not after --rescue-after) and runs to the end once.
func TestFaultKilledDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be := backend{data: t.TempDir()}
	flags := []string{"--part-size", "5242880", "--rescue-after", "10m"}
	d := startDaemon(t, be, "all", flags...)
	kills := 0

	// 1. Killed while it writes a part: the slow uploader is killed
	// too, its temporary file is swept at the next start, and the upload
	// resumes.
	_, vmcorectl := binaries(t)
	fx := fixture(t, "sysrq-c")
	up := newToken(t, d, "uploader")
	dir := kdumpDir(t, fx)
	cmd := execCommand(vmcorectl, "upload", "--server", d.url(), "--token", up, "--limit-rate", "1000000", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a part being written", time.Minute, func() bool {
		ents, _ := os.ReadDir(filepath.Join(be.data, "objects", "tmp"))
		return len(ents) > 0
	})
	d.kill()
	kills++
	cmd.Process.Kill()
	cmd.Wait()
	partial := leftovers(be.data)
	d = startDaemonAt(t, be, d.addr, "all", flags...)
	if l := leftovers(be.data); len(l) != 1 || !strings.HasPrefix(l[0], "objects/uploads/") {
		t.Errorf("after the restart: %v (before: %v), want only the upload", l, partial)
	}
	out, stderr, err := ctl(t, nil, "upload", "--server", d.url(), "--token", up, dir)
	if err != nil {
		t.Fatalf("resumed upload: %v\n%s", err, stderr)
	}
	id := lastLine(out)
	if got, want := storedSHA256(t, d, id), fileSHA256(t, fx.Files[0]); got != want {
		t.Errorf("stored sha256 %s, file %s", got, want)
	}

	// 2. Killed while it joins and hashes a 300 MiB upload (a second's
	// work here), three times at different moments: the completion the
	// client asks again for finishes it.
	var phases []string
	seed := rand.NewChaCha8([32]byte{17})
	for round, after := range []time.Duration{50 * time.Millisecond, 400 * time.Millisecond, 950 * time.Millisecond} {
		data := make([]byte, 300<<20)
		seed.Read(data)
		u := sendUpload(t, d, up, data)
		errc := make(chan error, 1)
		go func() { _, err := complete(d, up, u.DumpID, sum256(data)); errc <- err }()
		time.Sleep(after)
		d.kill()
		kills++
		killedEarly := <-errc != nil
		phase := completionPhase(be.data, u.DumpID)
		d = startDaemonAt(t, be, d.addr, "all", flags...)
		code, err := complete(d, up, u.DumpID, sum256(data))
		if err != nil || code != 200 {
			t.Fatalf("round %d: completion after the restart: %d %v", round, code, err)
		}
		if got := storedSHA256(t, d, u.DumpID); got != sum256(data) {
			t.Errorf("round %d: stored %s, sent %s", round, got, sum256(data))
		}
		t.Logf("round %d: killed %s the completion's answer, %s", round, map[bool]string{true: "before", false: "after"}[killedEarly], phase)
		phases = append(phases, phase)
	}
	if l := leftovers(be.data); len(l) != 0 {
		t.Errorf("left after the completions: %v", l)
	}

	// 3. Killed in the middle of an analysis: the restarted daemon
	// takes its own job back at once.
	d.stop()
	slow := append([]string{"--fault-step-delay", "300ms"}, flags...)
	d = startDaemon(t, be, "all", slow...)
	fx2 := fixture(t, "module-null-deref")
	out, stderr, err = ctl(t, nil, "upload", "--server", d.url(), "--token", up, kdumpDir(t, fx2))
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr)
	}
	id2 := lastLine(out)
	waitFor(t, "the analysis to start", time.Minute, func() bool {
		return strings.Contains(d.logs.String(), "analysis started\" dump="+id2)
	})
	d.kill()
	kills++
	restarted := time.Now()
	d = startDaemonAt(t, be, d.addr, "all", slow...)
	waitFor(t, "the analysis to start again", 30*time.Second, func() bool {
		return strings.Contains(d.logs.String(), "analysis started\" dump="+id2)
	})
	again := time.Since(restarted)
	waitFor(t, "the analysis to finish", 2*time.Minute, func() bool {
		return strings.Contains(d.logs.String(), "analysis done\" dump="+id2)
	})
	env := []string{"VMCORE_SERVER=" + d.url(), "VMCORE_TOKEN=" + adminToken}
	checkAnalysis(t, env, id2, fx2)
	if n := strings.Count(d.logs.String(), "analysis done\" dump="+id2); n != 1 {
		t.Errorf("analysis done %d times after the restart", n)
	}
	var list struct{ Total int }
	apiCall(t, "GET", d.url()+"/api/v1/dumps", adminToken, nil, &list)
	if list.Total != 5 {
		t.Errorf("%d dumps, want 5", list.Total)
	}
	report(t, "%d kills (a part being written, 3 completions of 300 MiB: %s, an analysis): 0 dumps lost, %d leftover files; the killed analysis ran again %.1f s after the restart (--rescue-after 10m)",
		kills, strings.Join(phases, "; "), len(leftovers(be.data)), again.Seconds())
}

// TestFaultKilledExpansion kills vmcored while it expands a gzip bomb:
// nothing is left in its temporary directory, and after the restart the
// bomb fails once at the expansion limit.
func TestFaultKilledExpansion(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be := backend{data: t.TempDir()}
	d := startDaemon(t, be, "all", "--max-expanded-size", "20000000000")
	bomb := dumpwrite.GzipZeros(10 << 30)
	up := newToken(t, d, "uploader")
	u := sendUpload(t, d, up, bomb)
	if code, err := complete(d, up, u.DumpID, sum256(bomb)); code != 200 {
		t.Fatalf("complete: %d %v", code, err)
	}
	waitFor(t, "the expansion to start", time.Minute, func() bool {
		return strings.Contains(d.logs.String(), "analysis started\" dump="+u.DumpID)
	})
	time.Sleep(2 * time.Second) // a GiB or so expanded
	d.kill()
	left := leftovers(be.data)
	if len(left) != 0 {
		t.Errorf("the killed expansion left %v", left)
	}
	d = startDaemon(t, be, "all", "--max-expanded-size", "1000000000")
	var detail struct{ Status, Error string }
	waitFor(t, "the bomb to fail", 2*time.Minute, func() bool {
		apiCall(t, "GET", d.url()+"/api/v1/dumps/"+u.DumpID, adminToken, nil, &detail)
		return detail.Status == "failed"
	})
	if !strings.Contains(detail.Error, "size limit") {
		t.Errorf("bomb failed with %q", detail.Error)
	}
	report(t, "killed during a 10 GiB expansion: %d files left; after the restart the bomb failed at the 1 GB limit", len(left))
}

// TestConcurrentUploads runs 50 vmcorectl uploads at once, 40 dumps and
// 10 copies of some of them: each dump is stored and analysed exactly
// once, each copy answered with its dump.
func TestConcurrentUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be := backend{data: t.TempDir()}
	d := startDaemon(t, be, "all")
	up := newToken(t, d, "uploader")
	raw, err := os.ReadFile(fixture(t, "sysrq-c").Files[0])
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	var paths []string
	for i := range 50 {
		// 40 dumps differ in a trailer past the dump's pages; 10 repeat
		// dumps 0..9.
		b := append(append([]byte(nil), raw...), fmt.Sprintf("trailer %d", i%40)...)
		p := filepath.Join(root, fmt.Sprintf("vmcore-%d", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	start := time.Now()
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr, err := ctl(t, nil, "upload", "--server", d.url(), "--token", up, p)
			if err != nil {
				t.Errorf("upload %d: %v\n%s", i, err, stderr)
			}
			ids[i] = lastLine(out)
		}()
	}
	wg.Wait()
	uploaded := time.Since(start)
	unique := map[string]bool{}
	for i, id := range ids {
		unique[id] = true
		if i >= 40 && id != ids[i-40] {
			t.Errorf("copy %d stored as %s, its dump is %s", i, id, ids[i-40])
		}
	}
	env := []string{"VMCORE_SERVER=" + d.url(), "VMCORE_TOKEN=" + adminToken}
	for id := range unique {
		if _, stderr, err := ctl(t, env, "sys", id, "--wait"); err != nil {
			t.Fatalf("sys %s: %v %s", id, err, stderr)
		}
	}
	twice := 0
	for id := range unique {
		if n := strings.Count(d.logs.String(), "analysis done\" dump="+id); n != 1 {
			twice++
			t.Errorf("dump %s analysed %d times", id, n)
		}
	}
	var list struct{ Total int }
	apiCall(t, "GET", d.url()+"/api/v1/dumps", adminToken, nil, &list)
	if len(unique) != 40 || list.Total != 40 {
		t.Errorf("%d ids, %d dumps listed, want 40", len(unique), list.Total)
	}
	report(t, "50 concurrent vmcorectl uploads (%d MB) in %.1f s: %d dumps stored and analysed once each, 10 copies answered with their dump, %d analysed other than once, %d leftover files",
		50*len(raw)>>20, uploaded.Seconds(), len(unique), twice, len(leftovers(be.data)))
}
