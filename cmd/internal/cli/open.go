package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newOpenCmd is `vmcorectl open ID`: it asks vmcored for a one-time
// login link to a crash's page in the web UI, prints it, and on a desktop
// opens it in the browser: a terminal user reaches the browser view in
// one step, without pasting a token into a login form. The link opens the
// crash read-only, as a viewer, whoever asked for it, so it may be shared
// in a chat; a chat's preview of the link does not use it up (only the
// button of the page it opens does). It works once, until --ttl.
func newOpenCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "open ID", Short: "Print (and on a desktop open) a one-time link to a dump's page in the web UI",
		Long: `Ask vmcored for a one-time link to a dump's page in the web UI, print it, and on a desktop
open it in the browser. The link opens the dump read-only, as a viewer, whoever asked for it,
so it can be pasted in a chat: a chat's preview does not use it up, only the button of the
page it opens does. It works once, until --ttl.`,
		GroupID: "server", Args: rangeArgs(1, 1, "dump id")}
	srv := addServerFlags(c.Flags(), false)
	ttl := c.Flags().Duration("ttl", 2*time.Minute, "how long the link works (1s to 24h)")
	printOnly := c.Flags().Bool("print", false, "print the link only, even on a desktop")
	c.RunE = func(c *cobra.Command, rest []string) error {
		return openLink(c.Context(), s, srv, rest[0], *ttl, *printOnly)
	}
	return c
}

// openLink makes the link and prints or opens it.
func openLink(ctx context.Context, s IO, srv *serverFlags, id string, ttl time.Duration, printOnly bool) error {
	stdout, stderr := s.Out, s.Err
	if !isDumpID(id) {
		return usageError("give one dump id (16 hex digits, as vmcorectl ls prints them)")
	}
	if ttl < time.Second || ttl > 24*time.Hour {
		return usageError("--ttl is 1s to 24h")
	}
	c, err := srv.client()
	if err != nil {
		return err
	}
	server := strings.TrimRight(srv.URL(), "/")
	req := map[string]any{"dump_id": id, "ttl_seconds": int(ttl.Seconds())}
	var res struct {
		Path    string    `json:"path"`
		Expires time.Time `json:"expires"`
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Post(ctx, "/api/v1/login-links", req, &res); err != nil {
		return err
	}
	if !strings.HasPrefix(res.Path, "/links/") {
		return fmt.Errorf("the server answered with no link (%q)", res.Path)
	}
	link := server + res.Path
	fmt.Fprintln(stdout, link)
	if printOnly || (os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "") {
		fmt.Fprintln(stderr, s.printer().T("cli.open.hint", "Within", time.Until(res.Expires).Round(time.Second).String()))
		return nil
	}
	// xdg-open hands the link to the desktop's browser; it is not waited
	// for, since with some browsers it returns only when the browser ends.
	cmd := exec.Command("xdg-open", link)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, s.printer().T("cli.open.no_xdg", "Error", err.Error()))
		return nil
	}
	cmd.Process.Release()
	return nil
}
