package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmcore/vmcore/internal/testsvc"
)

// fleet starts real MinIO and PostgreSQL on loopback and returns the
// settings every vmcored process of the fleet shares.
func fleet(t *testing.T) (backend, *testsvc.MinIOServer, *testsvc.PostgresServer) {
	t.Helper()
	m := testsvc.MinIO(t)
	pg := testsvc.Postgres(t)
	be := backend{data: t.TempDir(), env: []string{
		"VMCORED_DB=" + pg.DSN,
		"VMCORED_S3_ENDPOINT=" + m.Endpoint,
		"VMCORED_S3_BUCKET=vmcore-e2e",
		"VMCORED_S3_ACCESS_KEY=" + m.AccessKey,
		"VMCORED_S3_SECRET_KEY=" + m.SecretKey,
		"VMCORED_S3_INSECURE=1",
		"VMCORED_S3_PATH_STYLE=1",
	}}
	return be, m, pg
}

// workerData gives each worker process its own data directory (caches):
// on a fleet nothing but MinIO and PostgreSQL is shared.
func workerData(t *testing.T, be backend) backend {
	be.data = t.TempDir()
	return be
}

// TestFleetEndToEnd: an API process and two worker processes on MinIO and
// PostgreSQL; uploads go to MinIO through presigned part URLs.
func TestFleetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be, _, _ := fleet(t)
	api := startDaemon(t, be, "api")
	startDaemon(t, workerData(t, be), "worker")
	startDaemon(t, workerData(t, be), "worker")
	exerciseService(t, api, be, nil)
}

// storedSHA256 downloads a dump through the API and hashes it.
func storedSHA256(t *testing.T, d *daemon, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", d.url()+"/api/v1/dumps/"+id+"/download", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download: %s", resp.Status)
	}
	h := sha256.New()
	io.Copy(h, resp.Body)
	return hex.EncodeToString(h.Sum(nil))
}

// uploadingParts returns how many parts of the only upload in progress the
// store holds, or -1 when there is none yet.
func uploadingParts(t *testing.T, d *daemon, token string) int {
	var list struct{ Dumps []struct{ ID, Status string } }
	apiCall(t, "GET", d.url()+"/api/v1/dumps?status=uploading", adminToken, nil, &list)
	if len(list.Dumps) == 0 {
		return -1
	}
	var up struct{ Done []struct{ Number int } }
	if apiCall(t, "GET", d.url()+"/api/v1/uploads/"+list.Dumps[0].ID, token, nil, &up) != 200 {
		return -1
	}
	return len(up.Done)
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killedUpload starts a slow upload, kills vmcorectl once some parts are
// stored, and resumes it; the stored object must be the file.
func killedUpload(t *testing.T, api *daemon, during func()) {
	_, vmcorectl := binaries(t)
	fx := fixture(t, "sysrq-c")
	up := newToken(t, api, "uploader")
	dir := kdumpDir(t, fx)
	cmd := execCommand(vmcorectl, "upload", "--server", api.url(), "--token", up, "--limit-rate", "2000000", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a stored part", 60*time.Second, func() bool { return uploadingParts(t, api, up) >= 1 })
	if during != nil {
		during()
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "vmcore.upload-state")); err != nil {
		t.Fatalf("no resume state after the kill: %v", err)
	}
	parts := uploadingParts(t, api, up)
	out, stderr, err := ctl(t, nil, "upload", "--server", api.url(), "--token", up, dir)
	if err != nil {
		t.Fatalf("resumed upload: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "upload: ") && parts < 1 {
		t.Errorf("no parts stored before the resume")
	}
	id := lastLine(out)
	if got, want := storedSHA256(t, api, id), fileSHA256(t, fx.Files[0]); got != want {
		t.Errorf("stored object sha256 %s, file %s", got, want)
	}
	env := []string{"VMCORE_SERVER=" + api.url(), "VMCORE_TOKEN=" + adminToken}
	checkAnalysis(t, env, id, fx)
}

// TestFaultKilledUploadResumesEmbedded kills vmcorectl mid-upload.
func TestFaultKilledUploadResumesEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be := backend{data: t.TempDir()}
	api := startDaemon(t, be, "all", "--part-size", "5242880")
	killedUpload(t, api, nil)
}

// TestFaultFleet kills the uploader mid-upload, restarts MinIO and
// PostgreSQL while it runs, and kills the worker that took the analysis:
// the dump arrives whole, is analysed once, and nothing is duplicated.
// The other worker takes the dead one's job after --rescue-after without
// heartbeats, not after the (30 min) lease.
func TestFaultFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	be, m, pg := fleet(t)
	api := startDaemon(t, be, "api", "--part-size", "5242880")
	slow := []string{"--fault-step-delay", "300ms", "--rescue-after", "5s"}
	w1 := startDaemon(t, workerData(t, be), "worker", slow...)
	w2 := startDaemon(t, workerData(t, be), "worker", slow...)
	killedUpload(t, api, func() {
		m.Restart()
		pg.Restart()
	})

	// A worker dies in the middle of an analysis: its job moves to the
	// other worker after the lease and runs to the end once.
	fx := fixture(t, "module-null-deref")
	out, stderr, err := ctl(t, nil, "upload", "--server", api.url(), "--token", adminToken, kdumpDir(t, fx))
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr)
	}
	id := lastLine(out)
	// vmcore-dmesg.txt went first: the log reads before any analysis.
	req, _ := http.NewRequest("GET", api.url()+"/api/v1/dumps/"+id+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ref, _ := os.ReadFile(fx.Ref("dmesg.makedumpfile.txt"))
		if resp.StatusCode != 200 || resp.Header.Get("X-Vmcore-Log-Source") != "vmcore-dmesg.txt" || string(body) != string(ref) {
			t.Errorf("log before the analysis: %s from %q, %d bytes", resp.Status, resp.Header.Get("X-Vmcore-Log-Source"), len(body))
		}
	}
	var victim, other *daemon
	waitFor(t, "a worker to start the analysis", 60*time.Second, func() bool {
		for _, w := range []*daemon{w1, w2} {
			if strings.Contains(w.logs.String(), "analysis started\" dump="+id) {
				victim = w
			}
		}
		return victim != nil
	})
	other = w1
	if victim == w1 {
		other = w2
	}
	victim.kill()
	killed := time.Now()
	if strings.Contains(victim.logs.String(), "analysis done\" dump="+id) {
		t.Fatal("the worker finished before it was killed: the test proves nothing")
	}
	waitFor(t, "the other worker to take the job", time.Minute, func() bool {
		return strings.Contains(other.logs.String(), "analysis started\" dump="+id)
	})
	taken := time.Since(killed)
	waitFor(t, "the other worker to finish the analysis", 3*time.Minute, func() bool {
		return strings.Contains(other.logs.String(), "analysis done\" dump="+id)
	})
	t.Logf("reliability: %s: a worker killed during an analysis on MinIO and PostgreSQL: the other worker took its job %.1f s later (--rescue-after 5s, lease 30 min)", t.Name(), taken.Seconds())
	env := []string{"VMCORE_SERVER=" + api.url(), "VMCORE_TOKEN=" + adminToken}
	checkAnalysis(t, env, id, fx)
	time.Sleep(2 * time.Second)
	if n := strings.Count(other.logs.String(), "analysis done\" dump="+id); n != 1 {
		t.Errorf("analysis finished %d times", n)
	}
	var detail struct{ Run int }
	apiCall(t, "GET", api.url()+"/api/v1/dumps/"+id, adminToken, nil, &detail)
	if detail.Run != 1 {
		t.Errorf("run %d, want 1", detail.Run)
	}
	var list struct{ Total int }
	apiCall(t, "GET", api.url()+"/api/v1/dumps", adminToken, nil, &list)
	if list.Total != 2 {
		t.Errorf("%d dumps, want 2", list.Total)
	}
	_ = context.Background
}
