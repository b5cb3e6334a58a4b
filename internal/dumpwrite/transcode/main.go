// Command transcode rewrites a real crash dump as a kdump-compressed file
// with another page compression (zstd, snappy, zlib or none), keeping its
// bitmaps, notes, VMCOREINFO and page contents. The corpus uses it for zstd
// fixtures, which no Debian tool writes.
//
//	go run ./internal/dumpwrite/transcode -compress zstd IN... OUT
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vmcore/vmcore/internal/dumpwrite"
	"github.com/vmcore/vmcore/vmcore"
)

func main() {
	comp := flag.String("compress", "zstd", "page compression: zstd, snappy, zlib, none")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: transcode [-compress zstd] IN... OUT")
		os.Exit(2)
	}
	codes := map[string]uint32{"zstd": dumpwrite.Zstd, "snappy": dumpwrite.Snappy, "zlib": dumpwrite.Zlib, "none": dumpwrite.None}
	code, ok := codes[*comp]
	if !ok {
		fmt.Fprintf(os.Stderr, "transcode: unknown compression %q\n", *comp)
		os.Exit(2)
	}
	args := flag.Args()
	if err := run(args[:len(args)-1], args[len(args)-1], code); err != nil {
		fmt.Fprintln(os.Stderr, "transcode:", err)
		os.Exit(1)
	}
}

func run(in []string, out string, code uint32) error {
	d, err := vmcore.Open(in...)
	if err != nil {
		return err
	}
	defer d.Close()
	src, opt, err := dumpwrite.FromDump(d)
	if err != nil {
		return err
	}
	opt.Compression = code
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := dumpwrite.Kdump(f, src, opt); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
