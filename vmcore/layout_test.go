package vmcore

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// TestKdumpLayout pins the mirrors of makedumpfile's structures to the C
// layout of a 64-bit target (diskdump_mod.h: disk_dump_header is 464 bytes
// up to tasks[], timestamp at 408 after new_utsname's 390 bytes and 6 of
// padding; kdump_sub_header is 104 bytes with start_pfn_64 at 80; page_desc
// is 24), and checks that each Go struct has no padding of its own, so that
// unsafe.Offsetof is the file offset named in errors.
func TestKdumpLayout(t *testing.T) {
	sizes := []struct {
		name   string
		v      any
		goSize uintptr
		want   int
	}{
		{"disk_dump_header", diskDumpHeader{}, unsafe.Sizeof(diskDumpHeader{}), 464},
		{"kdump_sub_header", kdumpSubHeader{}, unsafe.Sizeof(kdumpSubHeader{}), 104},
		{"page_desc", pageDesc{}, unsafe.Sizeof(pageDesc{}), 24},
		{"makedumpfile_header", flatHeader{}, unsafe.Sizeof(flatHeader{}), 32},
		{"makedumpfile_data_header", flatDataHeader{}, unsafe.Sizeof(flatDataHeader{}), 16},
	}
	for _, tt := range sizes {
		if got := binary.Size(tt.v); got != tt.want || int(tt.goSize) != tt.want {
			t.Errorf("%s: encoded size %d, Go size %d, want %d", tt.name, got, tt.goSize, tt.want)
		}
	}
	var h diskDumpHeader
	var sub kdumpSubHeader
	offsets := []struct {
		field     string
		off, want uintptr
	}{
		{"disk_dump_header.timestamp", unsafe.Offsetof(h.Timestamp), 408},
		{"disk_dump_header.status", unsafe.Offsetof(h.Status), 424},
		{"disk_dump_header.block_size", unsafe.Offsetof(h.BlockSize), 428},
		{"disk_dump_header.max_mapnr", unsafe.Offsetof(h.MaxMapnr), 440},
		{"disk_dump_header.nr_cpus", unsafe.Offsetof(h.NrCPUs), 460},
		{"kdump_sub_header.offset_vmcoreinfo", unsafe.Offsetof(sub.OffsetVmcoreinfo), 32},
		{"kdump_sub_header.offset_note", unsafe.Offsetof(sub.OffsetNote), 48},
		{"kdump_sub_header.start_pfn_64", unsafe.Offsetof(sub.StartPFN64), 80},
		{"kdump_sub_header.max_mapnr_64", unsafe.Offsetof(sub.MaxMapnr64), 96},
		{"page_desc.flags", unsafe.Offsetof(pageDesc{}.Flags), 12},
		{"makedumpfile_header.type", unsafe.Offsetof(flatHeader{}.Type), 16},
		{"makedumpfile_data_header.buf_size", unsafe.Offsetof(flatDataHeader{}.BufSize), 8},
	}
	for _, tt := range offsets {
		if tt.off != tt.want {
			t.Errorf("%s at %d, want %d", tt.field, tt.off, tt.want)
		}
	}
}
