package client

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSOptions: a capture kernel has no CA store and no DNS. With
// --ca-file the server's certificate is trusted, with --resolve its name
// reaches it, and without them the request fails rather than going
// unverified.
func TestTLSOptions(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"dumps":[],"total":0}`))
	}))
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	// httptest's certificate names example.com.
	server := "https://example.com:" + port
	resolve := map[string]string{"example.com:" + port: "127.0.0.1"}

	ok, err := New(server, "t", Options{CAFile: ca, Resolve: resolve, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.List(context.Background(), nil); err != nil {
		t.Errorf("with --ca-file and --resolve: %v", err)
	}
	noCA, _ := New(server, "t", Options{Resolve: resolve, Retries: 1})
	if _, err := noCA.List(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v, want a certificate error", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	if _, err := New(server, "t", Options{CAFile: bad}); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
}
