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
#       DWARF vmlinux, vs crash `sys; bt -a; mod; log` and drgn
#       (stack traces of every CPU + the module list)
#
# The DWARF vmlinux is looked up under .cache/kernels/<release>/ (where
# make.sh unpacks it); without it, or with BENCH_FAST=1, the crash and drgn
# rows are skipped.
# Needs: makedumpfile crash python3-drgn time (Debian packages).
set -euo pipefail

mode=${1:-}
case $mode in log | analyze) shift ;; *) echo "usage: $0 log|analyze [-n RUNS] DUMP..." >&2; exit 2 ;; esac
runs=5
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 log|analyze [-n RUNS] DUMP..." >&2; exit 2; }

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$top" && CGO_ENABLED=0 go build -o "$bin/" ./cmd/vmcorectl ./cmd/vmcorectl-full ./cmd/vmcorectl-kb)
for tool in makedumpfile crash drgn /usr/bin/time; do
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
printf 'sys\nbt -a\nmod\nlog\nquit\n' >"$bin/crash-analyze"

# measure NAME CMD...: median wall seconds (nanosecond clock) and max peak
# RSS in KiB over $runs runs; "fails" when the tool exits non-zero.
measure() {
	local name=$1; shift
	local times=() rss=0 i t0 t1 k
	for ((i = 0; i < runs; i++)); do
		# @OUT@ is a fresh output file per run, for tools that refuse to
		# overwrite one: no shell wrapper adds its start-up to their time.
		local args=() a
		for a in "$@"; do [ "$a" = @OUT@ ] && a=$bin/out.$name.$i; args+=("$a"); done
		rm -f "$bin/out.$name.$i"
		t0=$(date +%s%N)
		if ! /usr/bin/time -o "$bin/rss" -f '%M' "${args[@]}" >/dev/null 2>"$bin/err"; then
			echo "$name fails 0"
			return
		fi
		t1=$(date +%s%N)
		rm -f "$bin/out.$name.$i"
		times+=("$(( (t1 - t0) / 1000 ))")
		k=$(tail -n1 "$bin/rss")
		rss=$(( k > rss ? k : rss ))
	done
	local med
	med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.4f", a[int((NR+1)/2)] / 1e6}')
	echo "$name $med $rss"
}

echo "| dump | size | tool | median s | peak RSS MiB | × vmcorectl |"
echo "|---|---|---|---|---|---|"
for dump in "$@"; do
	rel=$("$bin/vmcorectl" info --json "$dump" | sed -n 's/.*"release": "\(.*\)",/\1/p')
	vmlinux=$top/.cache/kernels/$rel/usr/lib/debug/boot/vmlinux-$rel
	size=$(du -h "$dump" | cut -f1)
	rows=()
	if [ "$mode" = log ]; then
		rows+=("$(measure vmcorectl "$bin/vmcorectl" log "$dump")")
		case $dump in
		*.flat) ;; # makedumpfile and crash do not read the flattened format in place
		*) rows+=("$(measure makedumpfile makedumpfile --dump-dmesg "$dump" @OUT@)") ;;
		esac
	else
		rows+=("$(measure vmcorectl-warm env VMCORE_CACHE="$bin/warm" "$bin/vmcorectl" analyze --json "$dump")")
		rows+=("$(measure vmcorectl-cold sh -c "rm -rf $bin/cold; VMCORE_CACHE=$bin/cold $bin/vmcorectl analyze --json '$dump'")")
		if [ -f "$vmlinux" ]; then
			# With the DWARF vmlinux crash and drgn read: file:line and inlined frames.
			rows+=("$(measure vmcorectl-dwarf-warm env VMCORE_CACHE="$bin/warm" "$bin/vmcorectl" analyze --json --debuginfo "$vmlinux" "$dump")")
			rows+=("$(measure vmcorectl-dwarf-cold sh -c "rm -rf $bin/cold; VMCORE_CACHE=$bin/cold $bin/vmcorectl analyze --json --debuginfo '$vmlinux' '$dump'")")
		fi
	fi
	if [ -f "$vmlinux" ] && [ -z "${BENCH_FAST:-}" ]; then
		case $dump in
		*.flat) ;;
		*) rows+=("$(measure crash-$mode sh -c "crash -s '$vmlinux' '$dump' <$bin/crash-$mode")") ;;
		esac
		script=$bin/dmesg.py
		[ "$mode" = analyze ] && script=$bin/analyze.py
		rows+=("$(measure drgn drgn -q -c "$dump" -s "$vmlinux" "$script")")
	fi
	base=$(echo "${rows[0]}" | cut -d' ' -f2)
	for r in "${rows[@]}"; do
		read -r name med rss <<<"$r"
		ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (a != "fails" && b > 0) printf "%.1f", a / b; else print "-" }')
		printf '| %s | %s | %s | %s | %.1f | %s |\n' "${dump#"$top"/}" "$size" "$name" "$med" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$ratio"
	done
done
