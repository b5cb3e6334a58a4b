package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestBenchService measures the service for BENCHMARKS.md; it runs only
// with VMCORE_BENCH=1 (it writes a multi-GB file) and prints numbers, it
// asserts none. VMCORE_BENCH_SIZE sets the upload size in bytes (default
// 4 GiB).
//
//	VMCORE_BENCH=1 go test ./cmd/vmcored -run TestBenchService -v -timeout 30m
func TestBenchService(t *testing.T) {
	if os.Getenv("VMCORE_BENCH") == "" {
		t.Skip("set VMCORE_BENCH=1")
	}
	size := int64(4 << 30)
	if v := os.Getenv("VMCORE_BENCH_SIZE"); v != "" {
		size, _ = strconv.ParseInt(v, 10, 64)
	}
	be, m, _ := fleet(t)
	api := startDaemon(t, be, "api")
	worker := startDaemon(t, workerData(t, be), "worker")

	// A file of incompressible-looking bytes: every 1 MiB block differs.
	path := filepath.Join(t.TempDir(), "vmcore")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*7 + i>>8)
	}
	for off := int64(0); off < size; off += int64(len(block)) {
		block[0], block[1] = byte(off>>20), byte(off>>28)
		f.Write(block[:min(int64(len(block)), size-off)])
	}
	f.Close()

	// vmcorectl upload: presigned parts straight to MinIO.
	_, vmcorectl := binaries(t)
	start := time.Now()
	cmd := execCommand(vmcorectl, "upload", "--server", api.url(), "--token", adminToken, path)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	ours := time.Since(start)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB

	// The same file with minio-go's PutObject, as a plain client would.
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.MakeBucket(ctx, "plain", minio.MakeBucketOptions{})
	start = time.Now()
	if _, err := c.FPutObject(ctx, "plain", "vmcore", path, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := time.Since(start)
	mb := float64(size) / (1 << 20)
	fmt.Printf("upload of %d bytes on loopback: vmcorectl %.1f s (%.0f MiB/s, peak RSS %d MiB), minio-go FPutObject %.1f s (%.0f MiB/s), ratio %.2f\n",
		size, ours.Seconds(), mb/ours.Seconds(), rss>>10, plain.Seconds(), mb/plain.Seconds(), ours.Seconds()/plain.Seconds())
	if m := completeLatency.FindStringSubmatch(api.logs.String()); m != nil {
		fmt.Printf("  of which the completion (S3 multipart completion, SHA-256 of the stored object read back, the row and job): %s\n", m[1])
	}

	// Analysis of a real dump from MinIO by ranged reads, against the same
	// analysis of the local file.
	for _, sc := range []string{"sysrq-c", "module-null-deref"} {
		fx := fixture(t, sc)
		start = time.Now()
		if _, _, err := ctl(t, nil, "analyze", fx.Files[0], "--json"); err != nil {
			t.Fatal(err)
		}
		local := time.Since(start)
		out, _, err := ctl(t, nil, "upload", "--server", api.url(), "--token", adminToken, fx.Files[0])
		if err != nil {
			t.Fatal(err)
		}
		id := lastLine(out)
		env := []string{"VMCORE_SERVER=" + api.url(), "VMCORE_TOKEN=" + adminToken}
		if _, _, err := ctl(t, env, "sys", id, "--wait"); err != nil {
			t.Fatal(err)
		}
		var detail struct {
			Steps []struct {
				Name    string
				Seconds float64
			}
		}
		apiCall(t, "GET", api.url()+"/api/v1/dumps/"+id, adminToken, nil, &detail)
		var remote float64
		for _, s := range detail.Steps {
			remote += s.Seconds
		}
		st, _ := os.Stat(fx.Files[0])
		stats := readStats(worker.logs.String())
		fmt.Printf("analysis of %s (%d bytes): from MinIO %.3f s of steps, read/requests/size %s; local vmcorectl analyze %.3f s (whole process)\n",
			sc, st.Size(), remote, stats[len(stats)-1], local.Seconds())
	}
}

var completeLatency = regexp.MustCompile(`uri=/api/v1/uploads/[0-9a-f]+/complete status=200 latency=(\S+)`)

var bytesRead = regexp.MustCompile(`bytes_read=(\d+) reads=(\d+) dump_size=(\d+)`)

// readStats finds the worker's ranged-read counts in its log.
func readStats(log string) []string {
	var out []string
	for _, m := range bytesRead.FindAllStringSubmatch(log, -1) {
		out = append(out, strings.Join(m[1:], "/"))
	}
	return out
}

// TestBenchScale measures analyses per hour on MinIO and PostgreSQL with
// 1, 2 and 4 worker processes (one analysis at a time each) on this
// machine, and the time from a completed upload to a readable analysis,
// for docs/capacity.md. It runs only with VMCORE_BENCH=1, prints numbers
// and asserts none. VMCORE_BENCH_DUMPS sets how many distinct dumps are
// uploaded and analysed again for each worker count (default 60).
//
//	VMCORE_BENCH=1 go test ./cmd/vmcored -run TestBenchScale -v -timeout 30m
func TestBenchScale(t *testing.T) {
	if os.Getenv("VMCORE_BENCH") == "" {
		t.Skip("set VMCORE_BENCH=1")
	}
	dumps := 60
	if v := os.Getenv("VMCORE_BENCH_DUMPS"); v != "" {
		dumps, _ = strconv.Atoi(v)
	}
	be, _, _ := fleet(t)
	api := startDaemon(t, be, "api")

	// Distinct dumps: the two fixtures with different trailers (past the
	// dump's pages: the analysis is the fixture's). Each is analysed once
	// per worker count: a rerun queued behind another of the same dump
	// would supersede it and cost nothing.
	root := t.TempDir()
	var ids []string
	var latencies []time.Duration
	w := startDaemon(t, workerData(t, be), "worker", "--workers", "1")
	for _, sc := range []string{"sysrq-c", "module-null-deref"} {
		raw, err := os.ReadFile(fixture(t, sc).Files[0])
		if err != nil {
			t.Fatal(err)
		}
		for i := range dumps / 2 {
			p := filepath.Join(root, fmt.Sprintf("%s-%d", sc, i))
			os.WriteFile(p, append(append([]byte(nil), raw...), fmt.Sprintf("trailer %d", i)...), 0o600)
			out, stderr, err := ctl(t, nil, "upload", "--server", api.url(), "--token", adminToken, p)
			if err != nil {
				t.Fatalf("upload: %v %s", err, stderr)
			}
			// The upload's last step is the completion: from here to a
			// readable analysis, on an idle worker.
			completed := time.Now()
			id := lastLine(out)
			for apiCall(t, "GET", api.url()+"/api/v1/dumps/"+id+"/analysis", adminToken, nil, nil) != 200 {
				time.Sleep(10 * time.Millisecond)
			}
			latencies = append(latencies, time.Since(completed))
			ids = append(ids, id)
		}
	}
	w.stop()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	fmt.Printf("complete → readable analysis, one idle worker, %d dumps: median %.2f s, min %.2f s, max %.2f s\n",
		len(latencies), latencies[len(latencies)/2].Seconds(), latencies[0].Seconds(), latencies[len(latencies)-1].Seconds())

	var base float64
	for _, n := range []int{1, 2, 4} {
		var workers []*daemon
		for range n {
			workers = append(workers, startDaemon(t, workerData(t, be), "worker", "--workers", "1"))
		}
		start := time.Now()
		runs := map[string]int{}
		for _, id := range ids {
			var res struct{ Run int }
			if code := apiCall(t, "POST", api.url()+"/api/v1/dumps/"+id+"/rerun", adminToken, map[string]any{}, &res); code != 202 {
				t.Fatalf("rerun: %d", code)
			}
			runs[id] = res.Run
		}
		for id, run := range runs {
			for {
				var d struct {
					Status string
					Run    int
				}
				apiCall(t, "GET", api.url()+"/api/v1/dumps/"+id, adminToken, nil, &d)
				if d.Run == run && (d.Status == "done" || d.Status == "failed") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		took := time.Since(start)
		perHour := float64(len(ids)) / took.Hours()
		if n == 1 {
			base = perHour
		}
		var cpu time.Duration // the workers' own, start-up included
		for _, w := range workers {
			w.stop()
			cpu += w.cmd.ProcessState.UserTime() + w.cmd.ProcessState.SystemTime()
		}
		fmt.Printf("%d worker process(es), %d analyses: %.1f s, %.0f analyses/hour, %.2f × one worker; worker CPU %.3f s per analysis\n",
			n, len(ids), took.Seconds(), perHour, perHour/base, cpu.Seconds()/float64(len(ids)))
	}
}
