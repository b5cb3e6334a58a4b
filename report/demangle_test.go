package report

import "testing"

// TestDemangle: the symbols of syzkaller's suite (Rust binder and ashmem,
// a C++ module) and the names syzbot's titles give them.
func TestDemangle(t *testing.T) {
	for _, tc := range []struct{ sym, want string }{
		{"_RNvMs3_NtCshgDM7dBCdno_11rust_binder7processNtB5_7Process10update_ref", "<rust_binder::process::Process>::update_ref"},
		{"_RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind", "__rustc::rust_begin_unwind"},
		{"_RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt", "core::panicking::panic_fmt"},
		{"_Z8fakeNameiii", "fakeName"},
		{"_ZN3foo3barEv", "foo::bar"},
		{"_RB_", "_RB_"},     // a backreference to itself: left as it is
		{"_R", "_R"},         // cut short
		{"_Z999x", "_Z999x"}, // a length past the end
		{"plain_c_name", "plain_c_name"},
	} {
		if got := demangle(tc.sym); got != tc.want {
			t.Errorf("demangle(%q) = %q, want %q", tc.sym, got, tc.want)
		}
	}
}

// FuzzDemangle: any symbol demangles without a panic and in bounded time.
func FuzzDemangle(f *testing.F) {
	f.Add("_RNvMs3_NtCshgDM7dBCdno_11rust_binder7processNtB5_7Process10update_ref")
	f.Add("_RNvXs_NtCs43vyB533jt3_6kernel10miscdeviceINtB4_14MiscDeviceVtableNtCs1_11ashmem_rust6AshmemE4mmap")
	f.Add("_ZN3foo3barEv")
	f.Fuzz(func(t *testing.T, s string) { demangle(s) })
}
