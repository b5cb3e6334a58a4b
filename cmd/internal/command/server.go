package command

import (
	"flag"
	"os"
	"strings"
)

// ServerFlags are the flags of every command that can talk to vmcored, as
// given; package cli turns them into an API client.
type ServerFlags struct {
	Server, Token, CAFile, Proxy *string
	Resolve                      ListFlag
	Wait                         *bool // nil when the command has no --wait
}

// AddServerFlags adds the flags that reach vmcored: --server, --token,
// --ca-file, --proxy, --resolve and, with withWait, --wait.
func AddServerFlags(fs *flag.FlagSet, withWait bool) *ServerFlags {
	o := &ServerFlags{
		Server: fs.String("server", "", "vmcored URL (default $VMCORE_SERVER)"),
		Token:  fs.String("token", "", "API token (default $VMCORE_TOKEN)"),
		CAFile: fs.String("ca-file", "", "PEM CA bundle for the server's certificate (default $VMCORE_CA_FILE)"),
		Proxy:  fs.String("proxy", "", "HTTP proxy URL (default $VMCORE_PROXY, else the environment's)"),
	}
	fs.Var(&o.Resolve, "resolve", "host:port:ip, to reach the server without DNS (repeatable)")
	if withWait {
		o.Wait = fs.Bool("wait", false, "wait until the service has analysed the dump")
	}
	return o
}

// ListFlag is a repeatable string flag.
type ListFlag []string

func (l *ListFlag) String() string     { return strings.Join(*l, ",") }
func (l *ListFlag) Set(v string) error { *l = append(*l, v); return nil }

// UploadConf is read for settings the capture kernel's environment lacks.
const UploadConf = "/etc/vmcore/upload.conf"

// ConfValue reads KEY from the environment, then from UploadConf.
func ConfValue(key string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	b, err := os.ReadFile(UploadConf)
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
