package dumpwrite

import (
	"github.com/vmcore/vmcore/vmcore"
)

// dumpSource serves a vmcore.Dump's pages and bitmaps to Kdump.
type dumpSource struct {
	d        *vmcore.Dump
	max      uint64
	hole     []bool
	excluded []bool
}

func (s *dumpSource) MaxPFN() uint64             { return s.max }
func (s *dumpSource) IsRAM(pfn uint64) bool      { return !s.hole[pfn] }
func (s *dumpSource) IsDumpable(pfn uint64) bool { return !s.hole[pfn] && !s.excluded[pfn] }
func (s *dumpSource) ReadPage(pfn uint64, b []byte) error {
	return s.d.ReadPhys(b, pfn*uint64(len(b)))
}

// FromDump describes an open dump as a PageSource and header options, so
// Kdump can rewrite it with another page compression: same bitmaps, same
// notes and VMCOREINFO, same page contents.
func FromDump(d *vmcore.Dump) (PageSource, KdumpOptions, error) {
	s := &dumpSource{d: d, max: d.Header.MaxPFN}
	s.hole = make([]bool, s.max)
	s.excluded = make([]bool, s.max)
	for r, err := range d.AbsentRanges() {
		if err != nil {
			return nil, KdumpOptions{}, err
		}
		for p := r.StartPFN; p < r.EndPFN && p < s.max; p++ {
			if r.Kind == vmcore.AbsentHole {
				s.hole[p] = true
			} else {
				s.excluded[p] = true
			}
		}
	}
	var notes []Note
	for _, n := range d.Notes {
		notes = append(notes, Note{Name: n.Name, Type: n.Type, Desc: n.Desc})
	}
	u := d.Header.Utsname
	opt := KdumpOptions{
		Sysname: u.Sysname, Nodename: u.Nodename, Release: u.Release, Version: u.Version, Machine: u.Machine,
		Timestamp: d.Header.Timestamp, BlockSize: d.PageSize, DumpLevel: d.Header.DumpLevel,
		NrCPUs: d.Header.NrCPUs, Notes: EncodeNotes(notes),
	}
	if d.Info != nil {
		opt.VMCoreInfo = d.Info.Raw()
	}
	return s, opt, nil
}

// Uncompressed rewrites a dump as a kdump-compressed file whose pages are
// stored uncompressed, in memory: byte flips in it land in kernel data,
// not in compressed streams that then fail to inflate.
func Uncompressed(d *vmcore.Dump) ([]byte, error) {
	src, opt, err := FromDump(d)
	if err != nil {
		return nil, err
	}
	opt.Compression = None
	var b Buffer
	if err := Kdump(&b, src, opt); err != nil {
		return nil, err
	}
	return b.B, nil
}
