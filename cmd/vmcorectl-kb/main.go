// Command vmcorectl-kb is vmcorectl-full with the knowledge base linked
// in: every vmcorectl command, plus `kb` (search, show, list, add and
// match articles) and KB suggestions in `analyze`. vmcorectl and
// vmcorectl-full run it for those; it can also be used on its own.
package main

import (
	"github.com/vmcore/vmcore/cmd/internal/cli"
	"github.com/vmcore/vmcore/cmd/internal/cli/kbcli"
)

func main() {
	kbcli.Register()
	cli.Main()
}
