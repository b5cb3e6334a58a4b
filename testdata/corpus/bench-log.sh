#!/usr/bin/env bash
# Times `vmcorectl log` against the established tools on the same dumps:
# makedumpfile --dump-dmesg, crash's `log` in batch mode (with its start-up,
# and the DWARF vmlinux it needs), and drgn's get_dmesg (with vmlinux).
# Prints one Markdown table row per dump and tool: median wall time of N
# runs, peak RSS, and the ratio to vmcorectl.
#
#   testdata/corpus/bench-log.sh [-n RUNS] DUMP...
#
# The DWARF vmlinux is looked up under .cache/kernels/<release>/ (where
# make.sh unpacks it); without it the crash and drgn rows are skipped.
# Needs: makedumpfile crash python3-drgn time (Debian packages).
set -euo pipefail

runs=5
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-n RUNS] DUMP..." >&2; exit 2; }

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$top" && go build -o "$bin/vmcorectl" ./cmd/vmcorectl)
for tool in makedumpfile crash drgn /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing (apt-get install makedumpfile crash python3-drgn time)" >&2; exit 1; }
done
cat >"$bin/dmesg.py" <<'EOF'
import sys
from drgn.helpers.linux.printk import get_dmesg
sys.stdout.buffer.write(get_dmesg(prog))
EOF
printf 'quit\n' >"$bin/crash-quit"
printf 'log\nquit\n' >"$bin/crash-log"

# measure NAME CMD...: median wall seconds (nanosecond clock) and max peak
# RSS in KiB over $runs runs; "fails" when the tool exits non-zero.
measure() {
	local name=$1; shift
	local times=() rss=0 i t0 t1 k
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		if ! /usr/bin/time -o "$bin/rss" -f '%M' "$@" >/dev/null 2>"$bin/err"; then
			echo "$name fails 0"
			return
		fi
		t1=$(date +%s%N)
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
	rows+=("$(measure vmcorectl "$bin/vmcorectl" log "$dump")")
	case $dump in
	*.flat) ;; # makedumpfile and crash do not read the flattened format in place
	*) rows+=("$(measure makedumpfile sh -c "rm -f $bin/out; makedumpfile --dump-dmesg '$dump' $bin/out")") ;;
	esac
	if [ -f "$vmlinux" ]; then
		case $dump in
		*.flat) ;;
		*) rows+=("$(measure crash-log sh -c "crash -s '$vmlinux' '$dump' <$bin/crash-log")") ;;
		esac
		rows+=("$(measure drgn drgn -q -c "$dump" -s "$vmlinux" "$bin/dmesg.py")")
	fi
	base=$(echo "${rows[0]}" | cut -d' ' -f2)
	for r in "${rows[@]}"; do
		read -r name med rss <<<"$r"
		ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (a != "fails" && b > 0) printf "%.1f", a / b; else print "-" }')
		printf '| %s | %s | %s | %s | %.1f | %s |\n' "${dump#"$top"/}" "$size" "$name" "$med" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$ratio"
	done
done
