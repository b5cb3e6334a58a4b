package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/vmcore/vmcore/analysis"
	"github.com/vmcore/vmcore/api/client"
	"github.com/vmcore/vmcore/cmd/internal/command"
)

// ServerOpts are the flags of every command that can talk to vmcored.
type ServerOpts struct{ *command.ServerFlags }

// AddServerFlags adds the flags that reach vmcored: --server, --token,
// --ca-file, --proxy, --resolve and, with withWait, --wait.
func AddServerFlags(fs *flag.FlagSet, withWait bool) *ServerOpts {
	return &ServerOpts{command.AddServerFlags(fs, withWait)}
}

// Remote reports whether --server was given: a command that also works
// offline then asks the server instead.
func (o *ServerOpts) Remote() bool { return *o.Server != "" }

// ServerURL is --server, else VMCORE_SERVER from the environment or the
// upload configuration file.
func (o *ServerOpts) ServerURL() string {
	if *o.Server != "" {
		return *o.Server
	}
	return command.ConfValue("VMCORE_SERVER")
}

// Client is an API client for the server the flags name.
func (o *ServerOpts) Client() (*client.Client, error) {
	srv := o.ServerURL()
	if srv == "" {
		return nil, fmt.Errorf("%w: no server: give --server or set VMCORE_SERVER", ErrUsage)
	}
	tok := *o.Token
	if tok == "" {
		tok = command.ConfValue("VMCORE_TOKEN")
	}
	ca := *o.CAFile
	if ca == "" {
		ca = command.ConfValue("VMCORE_CA_FILE")
	}
	proxy := *o.Proxy
	if proxy == "" {
		proxy = command.ConfValue("VMCORE_PROXY")
	}
	res, err := client.ParseResolve(o.Resolve)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return client.New(srv, tok, client.Options{CAFile: ca, Proxy: proxy, Resolve: res})
}

var dumpIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// remoteID says whether the arguments name a dump on the server rather
// than local files: one argument that looks like a dump id and is not a
// file, with a server known.
func (o *ServerOpts) remoteID(args []string) (string, bool) {
	if len(args) != 1 || !dumpIDPattern.MatchString(args[0]) || o.ServerURL() == "" {
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
func (o *ServerOpts) analysis(ctx context.Context, id string) (*analysis.Document, error) {
	c, err := o.Client()
	if err != nil {
		return nil, err
	}
	if o.Wait != nil && *o.Wait {
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

// dumpSource is where a command's dump comes from: local files or a dump
// id on the server.
type dumpSource struct {
	files    []string
	remote   string
	srv      *ServerOpts
	analysis *analysis.Document
}

// parseSource parses a command's flags (the server flags included) and
// says where its dump is. For a dump on the server it fetches the analysis
// document; when there is none yet, it returns the source with the error
// errNotAnalysed, so that log can fall back to vmcore-dmesg.txt.
func parseSource(fs *flag.FlagSet, args []string) (*dumpSource, error) {
	srv := AddServerFlags(fs, true)
	files, err := command.ParseDumpArgs(fs, args)
	if err != nil {
		return nil, err
	}
	src := &dumpSource{files: files, srv: srv}
	if id, ok := srv.remoteID(files); ok {
		src.remote = id
		if src.analysis, err = srv.analysis(context.Background(), id); errors.Is(err, errNotAnalysed) {
			return src, err
		} else if err != nil {
			return nil, err
		}
	}
	return src, nil
}
