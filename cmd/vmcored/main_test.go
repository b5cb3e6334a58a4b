package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandLine checks vmcored's command-line conventions, which are
// vmcorectl's: help and the version on standard output with status 0,
// mistakes on the command line or in a VMCORED_* variable on standard
// error with status 2, a service that cannot start with status 1. The
// flag package's single-dash long flags (-workers) still work.
func TestCommandLine(t *testing.T) {
	vmcored, _ := binaries(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	help := []string{"Usage:\n  vmcored [flags]", "--listen host:port", "[$VMCORED_LISTEN]", `"127.0.0.1:8080")`,
		"VMCORED_ADMIN_TOKEN", "DEBUGINFOD_URLS", "Exit status:"}
	for _, c := range []struct {
		args   []string
		env    []string
		code   int
		stdout []string // each is in standard output; nil: it is empty
		stderr string   // in standard error; "": it is empty
	}{
		{args: []string{"-h"}, stdout: help},
		{args: []string{"--help"}, stdout: help},
		{args: []string{"-help"}, stdout: help},
		{args: []string{"--listen", "127.0.0.1:1", "--help"}, stdout: help},
		{args: []string{"--version"}, stdout: []string{"vmcored ", ", go1."}},
		{args: []string{"-version"}, stdout: []string{"vmcored ", ", go1."}},
		{args: []string{"--nope"}, code: 2, stderr: "vmcored: unknown flag: --nope\nRun 'vmcored --help' for usage.\n"},
		{args: []string{"-x"}, code: 2, stderr: "unknown shorthand flag: 'x' in -x"},
		{args: []string{"--workers", "two"}, code: 2, stderr: `invalid argument "two" for "--workers" flag`},
		{args: []string{"-workers", "two"}, code: 2, stderr: `invalid argument "two" for "--workers" flag`},
		{args: []string{"-workers=two"}, code: 2, stderr: `invalid argument "two" for "--workers" flag`},
		{args: []string{"--lease=soon"}, code: 2, stderr: `invalid argument "soon" for "--lease" flag`},
		{args: []string{"--listen"}, code: 2, stderr: "flag needs an argument: --listen"},
		{args: []string{"--role", "boss"}, code: 2, stderr: `--role is all, api or worker, not "boss"`},
		{args: []string{"--log-level", "loud"}, code: 2, stderr: `--log-level is debug, info, warn or error, not "loud"`},
		{args: []string{"serve"}, code: 2, stderr: `vmcored takes no arguments, not "serve"`},
		{env: []string{"VMCORED_RETENTION=90d"}, code: 2, stderr: `$VMCORED_RETENTION: invalid argument "90d" for "--retention" flag`},
		{env: []string{"VMCORED_S3_INSECURE=yes"}, code: 2, stderr: `$VMCORED_S3_INSECURE: invalid argument "yes"`},
		{env: []string{"VMCORED_ROLE=boss"}, code: 2, stderr: `--role is all, api or worker, not "boss"`},
		// The command line wins over the environment.
		{args: []string{"--role", "boss"}, env: []string{"VMCORED_ROLE=api"}, code: 2, stderr: `not "boss"`},
		{args: []string{"--data", filepath.Join(file, "data"), "--listen", "127.0.0.1:0"}, code: 1, stderr: "not a directory"},
		{args: []string{"-data", filepath.Join(file, "data"), "-listen", "127.0.0.1:0"}, code: 1, stderr: "not a directory"},
	} {
		cmd := exec.Command(vmcored, c.args...)
		cmd.Env = append(os.Environ(), c.env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.Join(append(c.env, c.args...), " ")
		if code != c.code {
			t.Errorf("%s: exit status %d, want %d\nstdout: %s\nstderr: %s", name, code, c.code, stdout.String(), stderr.String())
		}
		if c.stdout == nil && stdout.Len() > 0 {
			t.Errorf("%s: standard output is not empty: %.300s", name, stdout.String())
		}
		for _, want := range c.stdout {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: standard output lacks %q:\n%.3000s", name, want, stdout.String())
			}
		}
		switch {
		case c.stderr == "" && stderr.Len() > 0:
			t.Errorf("%s: standard error is not empty: %.300s", name, stderr.String())
		case !strings.Contains(stderr.String(), c.stderr):
			t.Errorf("%s: standard error lacks %q:\n%.1000s", name, c.stderr, stderr.String())
		}
	}
}
