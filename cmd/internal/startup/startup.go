// Package startup makes the first milliseconds of a short-lived command
// cheaper. A command whose runs are short imports it, first, for its side
// effect: vmcorectl, whose `log` reads a dump in about a millisecond of a
// process that lives twelve.
//
// Measured on a paravirtualised guest, where page faults are what a Go
// start-up costs (one 4 KiB fault on fresh memory takes 12 µs, a fault on
// the executable's code 22 µs, a 2 MiB huge page 0.2 ms; a system call
// 1 µs), `vmcorectl log` went from 16.7 to 11.5 ms:
//   - the heap's first chunk is advised to be backed by transparent huge
//     pages, and the 2 MiB already in use is collapsed into one (-2.4 ms);
//     if the heap is about to outgrow that chunk, the runtime is made to map
//     the next one now, so that it can be advised too;
//   - the main goroutine's stack is grown once, while it is shallow, rather
//     than doubled and copied four times as the command goes deeper;
//   - beside the package initialisers that come after this one (a hundred
//     and twenty, spread over the whole text), the executable's code and
//     read-only data are mapped ahead of use, half a megabyte per system
//     call (-0.9 ms);
//   - all this happens early: the package imports nothing but unsafe, and
//     makes its few system calls itself (on linux/amd64 and linux/arm64),
//     so the runtime runs its initialiser sixth instead of sixteenth, after
//     package syscall and the ten lexically before it (-0.7 ms).
//
// Each step is advice: where the kernel refuses (no THP, THP "never", no
// MADV_COLLAPSE before Linux 6.1 or MADV_POPULATE_READ before 5.14) the
// command runs as it would have. With base pages other than 4 KiB (arm64's
// 16 and 64 KiB) the heap is left alone; the stack and the image are not.
// A long-running server does not import this: its heap is the runtime's
// business.
package startup
