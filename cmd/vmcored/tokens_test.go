package main

import (
	"strings"
	"testing"
)

// TestTokenCommands: vmcorectl token create, list and revoke against a
// real vmcored; the revoked token stops working.
func TestTokenCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	d := startDaemon(t, backend{data: t.TempDir()}, "all")
	srv := []string{"--server", d.url(), "--token", adminToken}
	out, stderr, err := ctl(t, nil, append([]string{"token", "create", "--name", "ci reader", "--role", "viewer", "--expires", "720h"}, srv...)...)
	if err != nil {
		t.Fatalf("token create: %v %s", err, stderr)
	}
	secret := strings.TrimSpace(out)
	if apiCall(t, "GET", d.url()+"/api/v1/dumps", secret, nil, nil) != 200 {
		t.Fatalf("the new token does not work")
	}
	list, _, err := ctl(t, nil, append([]string{"token", "list"}, srv...)...)
	if err != nil || !strings.Contains(list, "ci reader") || strings.Contains(list, secret) || !strings.Contains(list, " env ") {
		t.Fatalf("token list: %v\n%s", err, list)
	}
	var id string
	for _, l := range strings.Split(list, "\n") {
		if strings.Contains(l, "ci reader") {
			id = strings.Fields(l)[0]
		}
	}
	if _, stderr, err := ctl(t, nil, append([]string{"token", "revoke", id}, srv...)...); err != nil {
		t.Fatalf("token revoke %s: %v %s", id, err, stderr)
	}
	if code := apiCall(t, "GET", d.url()+"/api/v1/dumps", secret, nil, nil); code != 401 {
		t.Errorf("the revoked token: %d", code)
	}
	if _, _, err := ctl(t, nil, append([]string{"token", "revoke", id}, srv...)...); err == nil {
		t.Errorf("revoking twice succeeded")
	}
}
