package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmcore/vmcore/internal/corpus"
)

// TestMixedFleet: an x86_64 worker analyses an arm64 dump as it does an
// x86_64 one, the same crash on both architectures forms one bucket, the
// knowledge base suggests the same article for both, and the web UI says
// which architecture each dump is. The arm64 fixture's kernel (Debian's
// 6.1 arm64, no CONFIG_KALLSYMS_ALL) needs its System.map, which the
// daemon finds in its debuginfo store as it would an unpacked -dbg
// package's.
func TestMixedFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	type upload struct {
		fx      corpus.Dump
		machine string
		id      string
	}
	var ups []*upload
	for _, d := range corpus.Find(corpus.Committed()) {
		if d.Scenario == "module-null-deref" && d.Format == "kdump-zlib" {
			machine := "x86_64"
			if strings.Contains(d.Kernel, "arm64") {
				machine = "aarch64"
			}
			ups = append(ups, &upload{fx: d, machine: machine})
		}
	}
	if len(ups) < 2 || ups[0].machine == ups[len(ups)-1].machine {
		t.Fatalf("want the module-null-deref fixture of both architectures, have %d", len(ups))
	}
	var stores []string
	for _, u := range ups {
		store, _ := filepath.Abs(filepath.Dir(u.fx.Dir)) // testdata/dumps/RELEASE holds System.map-RELEASE
		stores = append(stores, store)
	}
	be := backend{data: t.TempDir(), env: []string{"VMCORE_DEBUGINFO=" + strings.Join(stores, ":")}}
	d := startDaemon(t, be, "all")
	up, viewer := newToken(t, d, "uploader"), newToken(t, d, "viewer")
	for _, u := range ups {
		out, stderr, err := ctl(t, nil, "upload", "--server", d.url(), "--token", up, kdumpDir(t, u.fx))
		if err != nil {
			t.Fatalf("upload %s: %v\n%s", u.fx.Label(), err, stderr)
		}
		u.id = lastLine(out)
	}
	env := []string{"VMCORE_SERVER=" + d.url(), "VMCORE_TOKEN=" + viewer}
	var title string
	for _, u := range ups {
		waitDone(t, d, viewer, u.id)
		out, stderr, err := ctl(t, env, "analyze", u.id, "--json")
		if err != nil {
			t.Fatalf("analyze %s: %v\n%s", u.fx.Label(), err, stderr)
		}
		var doc struct {
			System struct {
				Machine string
				Release string
			}
			Debuginfo  struct{ Source string }
			Oops       struct{ Title string }
			Modules    []struct{ Name string }
			Backtraces []struct {
				CPU    int
				Frames []struct{ Function string }
			}
			KB []struct{ ID string }
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.System.Machine != u.machine || doc.System.Release != u.fx.Kernel {
			t.Errorf("%s: machine %q release %q, want %q %q", u.fx.Label(), doc.System.Machine, doc.System.Release, u.machine, u.fx.Kernel)
		}
		if len(doc.KB) == 0 || doc.KB[0].ID != "null-deref-out-of-tree-module" {
			t.Errorf("%s: first suggestion %+v, want null-deref-out-of-tree-module", u.fx.Label(), doc.KB)
		}
		// Modules: drgn's list of the same dump.
		var got []string
		for _, m := range doc.Modules {
			got = append(got, m.Name)
		}
		if want := drgnModuleNames(t, u.fx); strings.Join(slices.Sorted(slices.Values(got)), ",") != strings.Join(want, ",") {
			t.Errorf("%s: modules %v, drgn lists %v (debuginfo %s)", u.fx.Label(), got, want, doc.Debuginfo.Source)
		}
		// The panicking CPU's trace passes through the module's function.
		found := false
		for _, bt := range doc.Backtraces {
			for _, f := range bt.Frames {
				found = found || strings.HasPrefix(f.Function, "crashmod_null_deref")
			}
		}
		if !found {
			t.Errorf("%s: no trace through crashmod_null_deref", u.fx.Label())
		}
		lg, _, err := ctl(t, env, "log", u.id)
		if ref, _ := os.ReadFile(u.fx.Ref("dmesg.makedumpfile-upstream.txt")); err != nil || lg != string(ref) {
			t.Errorf("%s: log differs from makedumpfile's (%d vs %d bytes): %v", u.fx.Label(), len(lg), len(ref), err)
		}
		if title == "" {
			title = doc.Oops.Title
		} else if doc.Oops.Title != title {
			t.Errorf("%s: title %q, the other architecture's %q", u.fx.Label(), doc.Oops.Title, title)
		}
	}
	var buckets struct {
		Buckets []struct {
			Title string
			Count int
		}
	}
	apiCall(t, "GET", d.url()+"/api/v1/buckets", viewer, nil, &buckets)
	if len(buckets.Buckets) != 1 || buckets.Buckets[0].Count != len(ups) {
		t.Errorf("buckets %+v: want one of %d dumps titled %q", buckets.Buckets, len(ups), title)
	}
	c := newWebClient(t, d.url())
	c.login(viewer)
	for _, u := range ups {
		code, page := c.get("/crashes/" + u.id)
		if code != 200 || !strings.Contains(page, u.machine) {
			t.Errorf("%s: crash page %d does not name the architecture %s", u.fx.Label(), code, u.machine)
		}
	}
}

// drgnModuleNames are the module names of the fixture's drgn reference
// (ref/drgn-modules.txt: NAME BASE SIZE), sorted.
func drgnModuleNames(t *testing.T, fx corpus.Dump) []string {
	t.Helper()
	b, ok := fx.ReadRef("drgn-modules.txt")
	if !ok {
		t.Fatalf("%s: no ref/drgn-modules.txt", fx.Label())
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(l); len(f) == 3 {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}
