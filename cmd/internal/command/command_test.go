package command

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		out    string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{fmt.Errorf("%w: no dump file given", ErrUsage), 2, "vmcorectl log: usage: no dump file given\n"},
		{errors.New("vmcore: open x: no such file"), 1, "vmcorectl log: vmcore: open x: no such file\n"},
		{ExitStatus(3), 3, ""}, // the companion has said why
	} {
		var b strings.Builder
		if got := Status("log", c.err, &b); got != c.status || b.String() != c.out {
			t.Errorf("Status(%v) = %d, %q; want %d, %q", c.err, got, b.String(), c.status, c.out)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  string
		m    bool
		lvl  string
	}{
		{[]string{"a", "-m", "b"}, "a b", true, ""},
		{[]string{"--level", "err", "a"}, "a", false, "err"},
		{[]string{"a", "--", "-m"}, "a -m", false, ""},
	} {
		fs := NewFlagSet("log", "DUMP", &strings.Builder{})
		m := fs.Bool("m", false, "")
		lvl := fs.String("level", "", "")
		pos, err := ParseInterspersed(fs, c.args)
		if err != nil || strings.Join(pos, " ") != c.pos || *m != c.m || *lvl != c.lvl {
			t.Errorf("%q: %q %v %q %v; want %q %v %q", c.args, pos, *m, *lvl, err, c.pos, c.m, c.lvl)
		}
	}
}

// TestCompanion finds a companion in $PATH when none is beside the test
// binary, and names it when it is nowhere.
func TestCompanion(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, Full)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got, err := Companion(Full); err != nil || got != p {
		t.Errorf("Companion(%s) = %q, %v; want %q", Full, got, err, p)
	}
	if _, err := Companion(KB); err == nil || !strings.Contains(err.Error(), KB+" is installed neither next to vmcorectl nor in $PATH") {
		t.Errorf("Companion(%s) without one: %v", KB, err)
	}
	if err := Hand([]string{"kb", "list"}, KB); err == nil {
		t.Error("Hand without a companion returned no error")
	}
}
