// Package buildinfo says which build a command is, for its --version:
// vmcorectl and vmcored print the same line.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Version is the module version and the VCS revision the binary was built
// from (with its commit time, and ", modified" for a dirty tree), then the
// Go version: "(devel) (0442129e1c3a, 2026-12-06T19:57:00Z), go1.25.0".
// A binary built without module information says "unknown".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (%s, %s%s)", rev[:min(12, len(rev))], when, dirty)
	}
	return v + ", " + bi.GoVersion
}
