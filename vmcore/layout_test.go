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
	tests := []struct {
		name      string
		v         any
		goSize    uintptr
		size      int
		field     string
		off, want uintptr
	}{
		{"disk_dump_header", diskDumpHeader{}, unsafe.Sizeof(diskDumpHeader{}), 464, "timestamp", unsafe.Offsetof(diskDumpHeader{}.Timestamp), 408},
		{"disk_dump_header", diskDumpHeader{}, unsafe.Sizeof(diskDumpHeader{}), 464, "status", unsafe.Offsetof(diskDumpHeader{}.Status), 424},
		{"disk_dump_header", diskDumpHeader{}, unsafe.Sizeof(diskDumpHeader{}), 464, "block_size", unsafe.Offsetof(diskDumpHeader{}.BlockSize), 428},
		{"disk_dump_header", diskDumpHeader{}, unsafe.Sizeof(diskDumpHeader{}), 464, "max_mapnr", unsafe.Offsetof(diskDumpHeader{}.MaxMapnr), 440},
		{"disk_dump_header", diskDumpHeader{}, unsafe.Sizeof(diskDumpHeader{}), 464, "nr_cpus", unsafe.Offsetof(diskDumpHeader{}.NrCPUs), 460},
		{"kdump_sub_header", kdumpSubHeader{}, unsafe.Sizeof(kdumpSubHeader{}), 104, "offset_vmcoreinfo", unsafe.Offsetof(kdumpSubHeader{}.OffsetVmcoreinfo), 32},
		{"kdump_sub_header", kdumpSubHeader{}, unsafe.Sizeof(kdumpSubHeader{}), 104, "offset_note", unsafe.Offsetof(kdumpSubHeader{}.OffsetNote), 48},
		{"kdump_sub_header", kdumpSubHeader{}, unsafe.Sizeof(kdumpSubHeader{}), 104, "start_pfn_64", unsafe.Offsetof(kdumpSubHeader{}.StartPFN64), 80},
		{"kdump_sub_header", kdumpSubHeader{}, unsafe.Sizeof(kdumpSubHeader{}), 104, "max_mapnr_64", unsafe.Offsetof(kdumpSubHeader{}.MaxMapnr64), 96},
		{"page_desc", pageDesc{}, unsafe.Sizeof(pageDesc{}), 24, "flags", unsafe.Offsetof(pageDesc{}.Flags), 12},
		{"makedumpfile_header", flatHeader{}, unsafe.Sizeof(flatHeader{}), 32, "type", unsafe.Offsetof(flatHeader{}.Type), 16},
		{"makedumpfile_data_header", flatDataHeader{}, unsafe.Sizeof(flatDataHeader{}), 16, "buf_size", unsafe.Offsetof(flatDataHeader{}.BufSize), 8},
	}
	for _, tt := range tests {
		if got := binary.Size(tt.v); got != tt.size || int(tt.goSize) != tt.size {
			t.Errorf("%s: encoded size %d, Go size %d, want %d", tt.name, got, tt.goSize, tt.size)
		}
		if tt.off != tt.want {
			t.Errorf("%s.%s at %d, want %d", tt.name, tt.field, tt.off, tt.want)
		}
	}
}
