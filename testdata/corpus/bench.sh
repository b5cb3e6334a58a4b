#!/usr/bin/env bash
# Times vmcorectl against the established tools on the same dumps, and
# prints one Markdown table row per dump and tool: median wall time of N
# runs, peak RSS, and the ratio to vmcorectl.
#
#   testdata/corpus/bench.sh log     [-n RUNS] DUMP...
#       vmcorectl log vs makedumpfile --dump-dmesg, crash's `log` in batch
#       mode (with its start-up and the DWARF vmlinux it needs), drgn's get_dmesg
#   testdata/corpus/bench.sh analyze [-n RUNS] DUMP...
#       vmcorectl analyze --json, warm (the build's profile cached) and cold
#       (empty profile cache), from the dump's BTF and kallsyms and with the
#       DWARF vmlinux, vs crash answering the same questions in batch
#       (`sys; bt -a; mod; log; ps; foreach UN bt; kmem -i; kmem -s; runq;
#       mount; dev -d`), drgn (stack traces of every CPU + the module list
#       only) and, with CORELENS_PYTHONPATH, Oracle's corelens running its
#       modules for the same sections (meminfo, slabinfo, buddyinfo, lock,
#       runq, blockinfo, mounts, cmdline, ps, bt -a).
#
# The DWARF vmlinux is looked up under .cache/kernels/<release>/ (where
# make.sh unpacks it); without it, or with BENCH_FAST=1, the crash, drgn
# and corelens rows are skipped.
# Needs: makedumpfile crash python3-drgn time (Debian packages).
# DRGN_PYTHONPATH=DIR          a drgn source tree for the drgn row (python3 -m
#                              drgn), for kernels Debian's 0.0.22 cannot read
#                              (6.4+ ORC) and arm64 dumps (default: python3-drgn)
# CORELENS_PYTHONPATH=DIR:DIR  a drgn >= 0.2.0 build and a drgn-tools checkout
#                              (github:oracle-samples/drgn-tools; not part of this repository)
# makedumpfile runs only on dumps of the host's architecture (Debian's
# reads no other): the rows of other dumps have none.
set -euo pipefail

mode=${1:-}
case $mode in log | analyze) shift ;; *) echo "usage: $0 log|analyze [-n RUNS] DUMP..." >&2; exit 2 ;; esac
runs=5
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 log|analyze [-n RUNS] DUMP..." >&2; exit 2; }

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# vmcorectl is installed as a package manager (or `go install` from its
# cache) installs a program, written with write(2): a linker's output is
# written through a shared mapping, which leaves it in the page cache in
# 4 KiB pages, and that alone costs a start-up 0.9 ms more here
# (BENCHMARKS.md, "The executable's page cache"). makedumpfile is as its
# package installed it.
(cd "$top" && CGO_ENABLED=0 go build -o "$bin/linked" ./cmd/vmcorectl)
install -m 755 "$bin/linked" "$bin/vmcorectl"
rm "$bin/linked"
drgn=(drgn)
[ -n "${DRGN_PYTHONPATH:-}" ] && drgn=(env PYTHONPATH="$DRGN_PYTHONPATH" python3 -m drgn)
for tool in makedumpfile crash python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing (apt-get install makedumpfile crash python3-drgn time)" >&2; exit 1; }
done
cat >"$bin/dmesg.py" <<'EOF'
import sys
from drgn.helpers.linux.printk import get_dmesg
sys.stdout.buffer.write(get_dmesg(prog))
EOF
cat >"$bin/analyze.py" <<'EOF'
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.percpu import per_cpu
for cpu in for_each_online_cpu(prog):
    try:
        prog.stack_trace(per_cpu(prog["runqueues"], cpu).curr)
    except Exception as e:
        print(e)
for m in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
    m.name.string_()
EOF
printf 'log\nquit\n' >"$bin/crash-log"
printf 'sys\nbt -a\nmod\nlog\nps\nforeach UN bt\nkmem -i\nkmem -s\nrunq\nmount\ndev -d\nquit\n' >"$bin/crash-analyze"

# The tools of one dump are timed by measure.py, interleaved run by run (so
# a slow spell of the machine hits them all alike) and with no shell or
# timer process inside the measured interval: posix_spawn to wait4 on a
# nanosecond clock. Peak RSS comes from one more run under GNU time (a
# spawned child's ru_maxrss would start at its parent's, Python's). It
# prints, per tool, "NAME MEDIAN_S PEAK_RSS_KIB", or
# "NAME fails 0" when the tool exits non-zero. @OUT@ is a fresh output file
# per run (removed before the run, untimed), for tools that refuse to
# overwrite one.
cat >"$bin/measure.py" <<'EOF'
import os, statistics, sys, time
runs, outdir = int(sys.argv[1]), sys.argv[2]
cmds = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
times = {c[0]: [] for c in cmds}
failed = set()
null = os.open(os.devnull, os.O_WRONLY)
for i in range(runs):
    for c in cmds:
        name = c[0]
        if name in failed:
            continue
        out = os.path.join(outdir, "out.%s.%d" % (name, i))
        argv = [out if a == "@OUT@" else a for a in c[1:]]
        if os.path.exists(out):
            os.remove(out)
        t0 = time.perf_counter_ns()
        pid = os.posix_spawnp(argv[0], argv, os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
        _, status = os.waitpid(pid, 0)
        t1 = time.perf_counter_ns()
        if os.path.exists(out):
            os.remove(out)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.add(name)
            continue
        times[name].append((t1 - t0) / 1e9)
for c in cmds:
    name = c[0]
    if name in failed:
        print(name, "fails", 0)
        continue
    out, rssfile = os.path.join(outdir, "out.rss"), os.path.join(outdir, "rss")
    argv = ["/usr/bin/time", "-o", rssfile, "-f", "%M"] + [out if a == "@OUT@" else a for a in c[1:]]
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    os.waitpid(pid, 0)
    if os.path.exists(out):
        os.remove(out)
    with open(rssfile) as f:
        rss = int(f.read().split()[-1])
    print(name, "%.4f" % statistics.median(times[name]), rss)
EOF

# spec NAME CMD...: one line of measure.py's input.
spec() {
	local IFS=$'\t'
	echo "$*"
}

echo "| dump | size | tool | median s | peak RSS MiB | × vmcorectl |"
echo "|---|---|---|---|---|---|"
for dump in "$@"; do
	rel=$("$bin/vmcorectl" info --json "$dump" | sed -n 's/.*"release": "\(.*\)",/\1/p')
	arch=$("$bin/vmcorectl" info --json "$dump" | sed -n 's/.*"arch": "\(.*\)",/\1/p')
	vmlinux=$top/.cache/kernels/$rel/usr/lib/debug/boot/vmlinux-$rel
	size=$(du -h "$dump" | cut -f1)
	specs=()
	if [ "$mode" = log ]; then
		specs+=("$(spec vmcorectl "$bin/vmcorectl" log "$dump")")
		case $dump in
		*.flat) ;; # makedumpfile and crash do not read the flattened format in place
		*) [ "$arch" = "$(uname -m)" ] && specs+=("$(spec makedumpfile makedumpfile --dump-dmesg "$dump" @OUT@)") ;;
		esac
	else
		specs+=("$(spec vmcorectl-warm env VMCORE_CACHE="$bin/warm" "$bin/vmcorectl" analyze --json "$dump")")
		specs+=("$(spec vmcorectl-cold sh -c "rm -rf $bin/cold; VMCORE_CACHE=$bin/cold $bin/vmcorectl analyze --json '$dump'")")
		sysmap=$top/.cache/kernels/$rel/usr/lib/debug/boot/System.map-$rel
		if [ -f "$sysmap" ]; then
			# The -dbg package's System.map: the symbols of a kernel whose
			# kallsyms has no data symbols (Debian's arm64 before 6.12).
			specs+=("$(spec vmcorectl-sysmap-warm env VMCORE_CACHE="$bin/warm" "$bin/vmcorectl" analyze --json --debuginfo "$sysmap" "$dump")")
			specs+=("$(spec vmcorectl-sysmap-cold sh -c "rm -rf $bin/cold; VMCORE_CACHE=$bin/cold $bin/vmcorectl analyze --json --debuginfo '$sysmap' '$dump'")")
		fi
		if [ -f "$vmlinux" ]; then
			# With the DWARF vmlinux crash and drgn read: file:line and inlined frames.
			specs+=("$(spec vmcorectl-dwarf-warm env VMCORE_CACHE="$bin/warm" "$bin/vmcorectl" analyze --json --debuginfo "$vmlinux" "$dump")")
			specs+=("$(spec vmcorectl-dwarf-cold sh -c "rm -rf $bin/cold; VMCORE_CACHE=$bin/cold $bin/vmcorectl analyze --json --debuginfo '$vmlinux' '$dump'")")
		fi
	fi
	if [ -f "$vmlinux" ] && [ -z "${BENCH_FAST:-}" ]; then
		case $dump in
		*.flat) ;;
		*) [ "$arch" = "$(uname -m)" ] && specs+=("$(spec "crash-$mode" sh -c "crash -s '$vmlinux' '$dump' <$bin/crash-$mode")") ;;
		esac
		script=$bin/dmesg.py
		[ "$mode" = analyze ] && script=$bin/analyze.py
		specs+=("$(spec drgn "${drgn[@]}" -q -c "$dump" -s "$vmlinux" "$script")")
		if [ "$mode" = analyze ] && [ -n "${CORELENS_PYTHONPATH:-}" ]; then
			# corelens finds the vmlinux under DIR/usr/lib/debug (-d DIR)
			specs+=("$(spec corelens env PYTHONPATH="$CORELENS_PYTHONPATH" /usr/bin/python3 -m drgn_tools.corelens -d "$top/.cache/kernels/$rel" "$dump" \
				-M meminfo -M slabinfo -M buddyinfo -M lock -M runq -M blockinfo -M mounts -M cmdline -M ps -M bt -a)")
		fi
	fi
	mapfile -t rows < <(printf '%s\n' "${specs[@]}" | python3 "$bin/measure.py" "$runs" "$bin")
	base=$(echo "${rows[0]}" | cut -d' ' -f2)
	for r in "${rows[@]}"; do
		read -r name med rss <<<"$r"
		ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (a != "fails" && b > 0) printf "%.2f", a / b; else print "-" }')
		printf '| %s | %s | %s | %s | %.1f | %s |\n' "${dump#"$top"/}" "$size" "$name" "$med" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$ratio"
	done
done
