package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

// sameCrashCopy writes the fixture's dump again with other bytes (pages
// stored uncompressed, or zlib-compressed anew, and another host name in
// the header): to the service another dump, to the kernel the same crash,
// so it lands in the same bucket.
func sameCrashCopy(t *testing.T, src string, compression uint32, node string) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	d, err := vmcore.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ps, opt, err := dumpwrite.FromDump(d)
	if err != nil {
		t.Fatal(err)
	}
	opt.Compression, opt.Nodename = compression, node
	var b dumpwrite.Buffer
	if err := dumpwrite.Kdump(&b, ps, opt); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vmcore")
	if err := os.WriteFile(path, b.B, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTriageEndToEnd works a crash's bucket with vmcorectl against the
// real vmcored, on real dumps: a viewer may not change it, a support
// engineer sets its status, assignee and a note, lists the crashes by
// triage status, reads the state in Japanese (LANG); marked fixed in the
// crashed kernel's own package version, the same crash arriving again
// reopens the bucket as a regression; marked fixed in a later release,
// it is marked "fixed in X, upgrade" instead.
func TestTriageEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	svc := startUIService(t)
	d := svc.d
	support := newToken(t, d, "support")
	env := func(tok string, extra ...string) []string {
		return append([]string{"VMCORE_SERVER=" + d.url(), "VMCORE_TOKEN=" + tok, "LC_ALL=", "LC_MESSAGES=", "LANG=C.UTF-8"}, extra...)
	}
	if _, stderr, err := ctl(t, env(svc.viewer), "set", svc.id, "--status", "investigating"); err == nil || !strings.Contains(stderr, "403") {
		t.Errorf("a viewer's set: %v %s", err, stderr)
	}
	out, stderr, err := ctl(t, env(support), "set", svc.id, "--status", "investigating", "--assignee", "sam", "--note", "crashmod writes through NULL")
	if err != nil || !strings.Contains(out, "investigating") || !strings.Contains(out, "sam") || !strings.Contains(out, "Bucket") {
		t.Fatalf("set: %v\n%s%s", err, out, stderr)
	}
	if out, _, _ := ctl(t, env(svc.viewer), "ls", "--status", "investigating"); !strings.Contains(out, svc.id) || !strings.Contains(out, "TRIAGE") {
		t.Errorf("ls --status investigating:\n%s", out)
	}
	if out, _, _ := ctl(t, env(svc.viewer), "ls", "--status", "new"); strings.Contains(out, svc.id) {
		t.Errorf("ls --status new lists the crash under investigation:\n%s", out)
	}
	if out, _, _ := ctl(t, env(svc.viewer), "ls", "--status", "done"); !strings.Contains(out, svc.id) {
		t.Errorf("ls --status done (the analysis) no longer works:\n%s", out)
	}
	out, _, err = ctl(t, env(svc.viewer, "LANG=ja_JP.UTF-8"), "set", svc.id)
	if err != nil || !strings.Contains(out, "調査中") || !strings.Contains(out, "crashmod writes through NULL") || !strings.Contains(out, "変更履歴") {
		t.Errorf("set in Japanese: %v\n%s", err, out)
	}
	if out, _, _ := ctl(t, env(svc.viewer, "LANG=ja_JP.UTF-8"), "ls"); !strings.Contains(out, "トリアージ") || !strings.Contains(out, "調査中") {
		t.Errorf("ls in Japanese:\n%s", out)
	}
	var view struct {
		Triage struct {
			ID, Status string
			Regression *struct {
				DumpID string `json:"dump_id"`
			}
		}
		Notes []struct{ Author string }
	}
	out, stderr, err = ctl(t, env(svc.viewer), "set", "--json", svc.id)
	if err != nil {
		t.Fatalf("set --json: %v %s", err, stderr)
	}
	if err := json.Unmarshal([]byte(out), &view); err != nil || view.Triage.Status != "investigating" || len(view.Notes) != 1 {
		t.Fatalf("set --json: %v %s", err, out)
	}
	bucket := view.Triage.ID

	// Fixed in the very package the crash ran (Debian 6.1.192-2): the same
	// crash again is a regression.
	if _, stderr, err := ctl(t, env(support), "set", bucket, "--status", "fixed", "--fix-release", "6.1.192-2", "--fix-commit", "0123456789ab"); err != nil {
		t.Fatalf("fixed: %v %s", err, stderr)
	}
	fx := fixture(t, "module-null-deref")
	upload := func(path string) string {
		t.Helper()
		out, stderr, err := ctl(t, nil, "upload", "--server", d.url(), "--token", svc.uploader, path)
		if err != nil {
			t.Fatalf("upload: %v %s", err, stderr)
		}
		id := lastLine(out)
		waitDone(t, d, svc.viewer, id)
		return id
	}
	again := upload(sameCrashCopy(t, fx.Files[0], dumpwrite.None, "web-2"))
	out, _, _ = ctl(t, env(svc.viewer), "set", "--json", bucket)
	view.Triage.Regression = nil
	json.Unmarshal([]byte(out), &view)
	if view.Triage.Status != "new" || view.Triage.Regression == nil || view.Triage.Regression.DumpID != again {
		t.Errorf("no regression after the same crash on the fix's kernel: %s", out)
	}
	c := newWebClient(t, d.url())
	c.login(svc.viewer)
	if _, page := c.get("/buckets/" + bucket); !strings.Contains(page, `id="regression"`) {
		t.Errorf("the bucket page does not say it regressed")
	}
	// Fixed in a later release: the crash on this older kernel says
	// "fixed in 6.1.193, upgrade".
	if _, stderr, err := ctl(t, env(support), "set", bucket, "--status", "fixed", "--fix-release", "6.1.193"); err != nil {
		t.Fatalf("fixed later: %v %s", err, stderr)
	}
	old := upload(sameCrashCopy(t, fx.Files[0], dumpwrite.Zlib, "web-3"))
	out, _, _ = ctl(t, env(svc.viewer), "set", "--crash", "--json", old)
	if !strings.Contains(out, `"upgrade": "6.1.193"`) || !strings.Contains(out, `"status": "fixed"`) {
		t.Errorf("the crash on an older kernel: %s", out)
	}
	if _, page := c.get("/crashes/" + old); !strings.Contains(page, `id="upgrade"`) || !strings.Contains(page, "Fixed in 6.1.193") {
		t.Errorf("the crash page does not say to upgrade")
	}
}
