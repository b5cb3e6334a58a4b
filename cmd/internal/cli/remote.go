package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/client"
)

// serverFlags are the flags of the commands that talk to vmcored.
type serverFlags struct {
	server, token, caFile, proxy string
	resolve                      listFlag
	wait                         bool
}

// addServerFlags adds --server, --token, --ca-file, --proxy, --resolve
// and, with withWait, --wait.
func addServerFlags(fs *pflag.FlagSet, withWait bool) *serverFlags {
	o := &serverFlags{}
	fs.StringVar(&o.server, "server", "", "vmcored's URL (default $VMCORE_SERVER)")
	fs.StringVar(&o.token, "token", "", "API token (default $VMCORE_TOKEN)")
	fs.StringVar(&o.caFile, "ca-file", "", "PEM CA bundle for the server's certificate (default $VMCORE_CA_FILE)")
	fs.StringVar(&o.proxy, "proxy", "", "HTTP proxy URL (default $VMCORE_PROXY, else the environment's)")
	fs.Var(&o.resolve, "resolve", "`host:port:ip` to reach the server at without DNS (repeatable)")
	if withWait {
		fs.BoolVar(&o.wait, "wait", false, "wait until the service has analysed the dump")
	}
	return o
}

// URL is --server, else VMCORE_SERVER from the environment or the upload
// configuration file.
func (o *serverFlags) URL() string {
	if o.server != "" {
		return o.server
	}
	return confValue("VMCORE_SERVER")
}

// client is an API client for the server the flags name.
func (o *serverFlags) client() (*client.Client, error) {
	srv := o.URL()
	if srv == "" {
		return nil, usageError("no server: give --server or set VMCORE_SERVER")
	}
	or := func(v, key string) string {
		if v != "" {
			return v
		}
		return confValue(key)
	}
	res, err := client.ParseResolve(o.resolve)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return client.New(srv, or(o.token, "VMCORE_TOKEN"), client.Options{CAFile: or(o.caFile, "VMCORE_CA_FILE"),
		Proxy: or(o.proxy, "VMCORE_PROXY"), Resolve: res})
}

// isDumpID reports whether s is a dump id as vmcored makes them: 16
// lower-case hex digits. (No regexp: it would be compiled at every start.)
func isDumpID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// remoteID says whether the arguments name a dump on the server rather
// than local files: one argument that looks like a dump id and is not a
// file, with a server known.
func (o *serverFlags) remoteID(args []string) (string, bool) {
	if len(args) != 1 || !isDumpID(args[0]) || o.URL() == "" {
		return "", false
	}
	if _, err := os.Stat(args[0]); err == nil {
		return "", false
	}
	return args[0], true
}

// errNotAnalysed is returned when the service has no analysis yet.
var errNotAnalysed = errors.New("the service has not analysed this dump yet (use --wait)")

// analysis fetches a dump's analysis document, waiting for it with --wait.
func (o *serverFlags) analysis(ctx context.Context, id string) (*analysis.Document, error) {
	c, err := o.client()
	if err != nil {
		return nil, err
	}
	if o.wait {
		d, err := c.Wait(ctx, id, time.Second)
		if err != nil {
			return nil, err
		}
		if d.Status == "failed" && d.Error != "" {
			return nil, fmt.Errorf("the analysis failed: %s", d.Error)
		}
	}
	var buf bytes.Buffer
	if err := c.Get(ctx, "/api/v1/dumps/"+id+"/analysis", &buf); err != nil {
		if client.IsNotFound(err) {
			if _, derr := c.Dump(ctx, id); derr == nil {
				return nil, errNotAnalysed
			}
		}
		return nil, err
	}
	a := new(analysis.Document)
	if err := json.Unmarshal(buf.Bytes(), a); err != nil {
		return nil, fmt.Errorf("decoding the analysis: %w", err)
	}
	return a, nil
}

// uploadConf is read for settings the capture kernel's environment lacks.
const uploadConf = "/etc/vmcore/upload.conf"

// confValue reads KEY from the environment, then from uploadConf.
func confValue(key string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	b, err := os.ReadFile(uploadConf)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}
