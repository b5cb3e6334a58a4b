package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// runOpen asks vmcored for a one-time login link to a crash's page in the
// web UI, prints it, and on a desktop opens it in the browser: a terminal
// user reaches the browser view in one step, without pasting a token into
// a login form. The link logs in as the token that asked for it (a viewer
// or admin token), works once, and expires after --ttl.
func runOpen(args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet("open", "ID", stderr)
	srv := AddServerFlags(fs, false)
	ttl := fs.Duration("ttl", 2*time.Minute, "how long the link works (1s to 10m)")
	printOnly := fs.Bool("print", false, "print the link only, even on a desktop")
	rest, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || !dumpIDPattern.MatchString(rest[0]) {
		fs.Usage()
		return fmt.Errorf("%w: give one dump id (16 hex digits, as vmcorectl ls prints them)", ErrUsage)
	}
	if *ttl < time.Second || *ttl > 10*time.Minute {
		return fmt.Errorf("%w: --ttl is 1s to 10m", ErrUsage)
	}
	c, err := srv.Client()
	if err != nil {
		return err
	}
	server := strings.TrimRight(srv.ServerURL(), "/")
	req := map[string]any{"dump_id": rest[0], "ttl_seconds": int(ttl.Seconds())}
	var res struct {
		Path    string    `json:"path"`
		Expires time.Time `json:"expires"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Post(ctx, "/api/v1/login-links", req, &res); err != nil {
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
