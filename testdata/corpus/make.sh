#!/bin/bash
# Generate the crash-dump corpus: real kdump vmcores of Debian kernels booted in
# QEMU, converted to every makedumpfile / QEMU format, with reference outputs of
# makedumpfile, crash and drgn. See testdata/corpus/README.md.
#
#   testdata/corpus/make.sh [KERNEL...]      KERNEL: 6.1 | 6.12 | an exact release
#
# Environment (all optional):
#   KERNELS="6.1 6.12"     kernels when no argument is given (default: 6.1)
#   SCENARIOS="..."        scenarios (default: all eight kdump scenarios)
#   QEMU_DUMP=1            also make the QEMU dump-guest-memory dump (qemu-sysrq-c)
#   FIXTURES=0|1           also make the small committed fixtures and copy them to
#                          testdata/dumps/<release>/<scenario>/ (default 0)
#   CORPUS_DIR=...         output (default: <repo>/.cache/corpus)
#   CACHE_DIR=...          downloads, kernels, builds (default: <repo>/.cache)
#   GUEST_MEM=512M CRASHKERNEL=192M     guest RAM and crashkernel= of the corpus
#   FIXTURE_SCENARIOS="sysrq-c module-null-deref"  FIXTURE_KERNELS=6.1
#   FIXTURE_FLAT="sysrq-c"  also copy these fixtures' vmcore.flat (default: none)
#   FIXTURE_MEM=320M FIXTURE_CRASHKERNEL=112M  guest RAM and crashkernel= of the fixtures
#   ACCEL=auto|kvm|tcg     (default auto: KVM if a test guest runs, else TCG)
#   KEEP_ELF=1             keep the raw ELF vmcore.elf (default: delete it)
#   NO_APT=1               do not apt-get install host tools
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-$ROOT/.cache}
CORPUS_DIR=${CORPUS_DIR:-$ROOT/.cache/corpus}
mkdir -p "$CACHE_DIR" "$CORPUS_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
CORPUS_DIR=$(cd "$CORPUS_DIR" && pwd)
DEBS=$CACHE_DIR/debs
ALL_SCENARIOS="sysrq-c module-null-deref bug panic hung-task soft-lockup warn oom"
SCENARIOS=${SCENARIOS-$ALL_SCENARIOS}
QEMU_DUMP=${QEMU_DUMP:-1}
FIXTURES=${FIXTURES:-0}
FIXTURE_SCENARIOS=${FIXTURE_SCENARIOS:-"sysrq-c module-null-deref"}
FIXTURE_KERNELS=${FIXTURE_KERNELS:-6.1} # kernels (words or releases) that get fixtures
FIXTURE_FLAT=${FIXTURE_FLAT-} # scenarios whose vmcore.flat is also copied to testdata/dumps
GUEST_MEM=${GUEST_MEM:-512M}
CRASHKERNEL=${CRASHKERNEL:-192M}
FIXTURE_MEM=${FIXTURE_MEM:-320M}
FIXTURE_CRASHKERNEL=${FIXTURE_CRASHKERNEL:-112M}
KEEP_ELF=${KEEP_ELF:-0}
ACCEL=${ACCEL:-auto}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
PY=/usr/bin/python3 # Debian's python3 (python3-drgn lives there)
if [ $# -gt 0 ]; then KERNELS="$*"; else KERNELS=${KERNELS:-6.1}; fi

log() { printf '%s make.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '%s make.sh: ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# ---------------------------------------------------------------- host tools
HOST_PKGS="qemu-system-x86 qemu-utils makedumpfile crash kexec-tools busybox-static cpio
  python3 python3-drgn gcc gcc-12 make libc6-dev libelf-dev xz-utils zstd gzip binutils
  file kmod bc dwarves"
APT_UPDATED=0
apt_update_once() {
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		apt-get update -qq >&2 || die "apt-get update failed"
		APT_UPDATED=1
	fi
}
install_host_tools() {
	[ "${NO_APT:-0}" = 1 ] && return 0
	local missing=() p
	for p in $HOST_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "need root to apt-get install: ${missing[*]}"
	apt_update_once
	log "installing host packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- accelerator
detect_accel() { # detect_accel VMLINUZ: boot the kernel once under KVM; TCG if that fails
	case "$ACCEL" in kvm | tcg) log "accelerator forced by ACCEL=$ACCEL"; return ;; esac
	ACCEL=tcg
	if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
		log "accelerator: NO KVM (/dev/kvm missing or not writable), falling back to TCG (software emulation, slower)"
		return
	fi
	# Boot the kernel without an initramfs: it must get as far as the
	# "VFS: Unable to mount root fs" panic. KVM may exist and still not run a
	# guest kernel (nested virtualisation), so a real boot is the test.
	local d rc=0
	d=$(mktemp -d)
	(timeout 60 qemu-system-x86_64 -accel kvm -cpu host -smp 2 -m 256 -kernel "$1" \
		-append "console=ttyS0 panic=-1" -display none -nodefaults -no-reboot \
		-serial file:"$d/serial"; exit $?) >"$d/qemu.log" 2>&1 || rc=$?
	if grep -q 'Kernel panic' "$d/serial" 2>/dev/null; then
		ACCEL=kvm
		log "accelerator: KVM works, using -accel kvm -cpu host"
	else
		log "accelerator: NO KVM: a test guest under -accel kvm did not boot (qemu exit $rc: $(grep -v Aborted "$d/qemu.log" | head -c 300 | tr '\n' ' '); serial: $(tail -n1 "$d/serial" 2>/dev/null))"
		log "accelerator: falling back to TCG (-accel tcg -cpu max,la57=off, software emulation)"
	fi
	rm -rf "$d"
}
qemu_cpu_args() {
	if [ "$ACCEL" = kvm ]; then echo "-accel kvm -cpu host"; else echo "-accel tcg -cpu max,la57=off"; fi
}

# ---------------------------------------------------------------- kernels
# resolve_kernel WORD -> sets REL (kernel release) and KVER (Debian package version)
resolve_kernel() {
	local word=$1 pat cands
	case "$word" in
	6.1) pat='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) pat='^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
	*-amd64) pat="^linux-image-$(printf '%s' "$word" | sed 's/[.+]/\\&/g')\$" ;;
	*) die "unknown kernel '$word' (use 6.1, 6.12 or a release such as 6.1.0-56-amd64)" ;;
	esac
	cands=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$pat" || true)
	if [ -z "$cands" ]; then
		apt_update_once
		cands=$(apt-cache pkgnames linux-image- | grep -E "$pat" || true)
	fi
	[ -n "$cands" ] || die "no Debian package matches kernel '$word' ($pat); is the bookworm(-security) apt source configured?"
	REL=$(echo "$cands" | sed 's/^linux-image-//' | sort -V | tail -n1)
	KVER=$(apt-cache policy "linux-image-$REL" | sed -n 's/^ *Candidate: //p')
	log "kernel '$word' -> linux-image-$REL $KVER"
}

# download PKG -> path of the .deb in $DEBS
download_deb() {
	local pkg=$1 ver f
	ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "kernel package $pkg cannot be downloaded: apt knows no candidate version"
	f=$(ls "$DEBS/${pkg}_${ver#*:}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		log "downloading $pkg $ver"
		mkdir -p "$DEBS"
		(cd "$DEBS" && apt-get download -o APT::Sandbox::User=root "$pkg=$ver" >&2) ||
			die "kernel package $pkg ($ver) cannot be downloaded (apt-get download failed)"
		f=$(ls "$DEBS/${pkg}_${ver#*:}_"*.deb | head -n1)
	fi
	echo "$f"
}

prepare_kernel() {
	KDIR=$CACHE_DIR/kernels/$REL
	mkdir -p "$KDIR"
	local hdr_pkgs p deb
	hdr_pkgs=$(apt-cache depends "linux-headers-$REL" | sed -n 's/^ *Depends: //p' | grep -E '^linux-(headers|kbuild)-' || true)
	if [ ! -e "$KDIR/.extracted" ]; then
		for p in "linux-image-$REL" "linux-headers-$REL" $hdr_pkgs; do
			deb=$(download_deb "$p")
			log "extracting $(basename "$deb")"
			dpkg-deb -x "$deb" "$KDIR"
		done
		depmod -b "$KDIR" "$REL" || die "depmod for the extracted $REL modules failed"
		touch "$KDIR/.extracted"
	fi
	if [ ! -e "$KDIR/.extracted-dbg" ]; then
		deb=$(download_deb "linux-image-$REL-dbg")
		log "extracting vmlinux and virtio module debug info from $(basename "$deb") (large, ~1 min)"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$KDIR" --wildcards \
			"./usr/lib/debug/boot/vmlinux-$REL" \
			"./usr/lib/debug/lib/modules/$REL/kernel/drivers/virtio/*" \
			"./usr/lib/debug/lib/modules/$REL/kernel/drivers/block/virtio_blk.ko*"
		touch "$KDIR/.extracted-dbg"
	fi
	VMLINUZ=$KDIR/boot/vmlinuz-$REL
	VMLINUX=$KDIR/usr/lib/debug/boot/vmlinux-$REL
	HDIR=$KDIR/usr/src/linux-headers-$REL
	[ -f "$VMLINUZ" ] || die "$VMLINUZ missing after extraction"
	[ -f "$VMLINUX" ] || die "$VMLINUX missing after extraction"
	# The headers' Makefile includes the -common tree by absolute /usr/src path:
	# point it at our extracted copy instead.
	sed -i "s|^include .*/\(linux-headers-[^/]*\)/Makefile\$|include $KDIR/usr/src/\1/Makefile|" "$HDIR/Makefile"
	grep -q "^include $KDIR/usr/src/" "$HDIR/Makefile" || die "cannot point $HDIR/Makefile at the extracted -common headers"
	local cc
	cc=$(sed -n 's/^CC = .*\$(CROSS_COMPILE)\(gcc[-0-9]*\).*/\1/p' "$HDIR/Makefile" | head -n1)
	KCC=${cc:-gcc}
	if ! command -v "$KCC" >/dev/null; then
		[ "${NO_APT:-0}" = 1 ] || { apt_update_once; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$KCC" >&2 || true; }
		command -v "$KCC" >/dev/null || die "compiler $KCC needed by linux-headers-$REL is not installed"
	fi
	# 31 excludes free pages, which makedumpfile 1.7.2 misidentifies on >= 6.12.
	# crash 8.0.2 predates Linux 6.4: on newer kernels it does not find the KASLR
	# offset by itself and aborts on the new struct module layout.
	case "$REL" in
	6.1.*) DUMPLEVEL=31 CRASH_FLAGS="" ;;
	*) DUMPLEVEL=23 CRASH_FLAGS="--kaslr=auto --no_modules" ;;
	esac
}

build_module() {
	BUILD=$CACHE_DIR/build/$REL
	local src=$HERE/crashmod mdir=$BUILD/crashmod sum
	sum=$(cat "$src/crashmod.c" "$src/Kbuild" | md5sum | cut -d' ' -f1)
	if [ -f "$mdir/crashmod.ko" ] && [ "$(cat "$mdir/.srcsum" 2>/dev/null)" = "$sum" ]; then
		return
	fi
	log "building crashmod.ko against linux-headers-$REL"
	rm -rf "$mdir" && mkdir -p "$mdir"
	cp "$src/crashmod.c" "$src/Kbuild" "$mdir/"
	make -C "$HDIR" M="$mdir" modules >"$mdir/build.log" 2>&1 ||
		{ tail -n 30 "$mdir/build.log" >&2; die "building crashmod.ko for $REL failed (log: $mdir/build.log)"; }
	echo "$sum" >"$mdir/.srcsum"
}

build_hog() {
	HOG=$CACHE_DIR/build/hog
	if [ ! -x "$HOG" ] || [ "$HERE/guest/hog.c" -nt "$HOG" ]; then
		mkdir -p "$CACHE_DIR/build"
		gcc -static -O2 -o "$HOG" "$HERE/guest/hog.c" || die "building the static memory hog failed"
	fi
}

# copy_with_libs BINARY ROOTFS: the binary and the shared libraries ldd names.
copy_with_libs() {
	local bin=$1 root=$2 lib
	install -D -m 0755 "$bin" "$root$bin"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done
}

# modules_in_order NAME...: the .ko paths of the named modules and their
# dependencies from modules.dep, dependencies first.
modules_in_order() {
	local mdir=$KDIR/lib/modules/$REL
	"$PY" - "$mdir/modules.dep" "$mdir/modules.builtin" "$@" <<'EOF'
import sys
builtin = set()
for line in open(sys.argv[2]):
    builtin.add(line.strip().rsplit("/", 1)[-1].split(".ko")[0].replace("-", "_"))
dep = {}
for line in open(sys.argv[1]):
    k, _, v = line.partition(":")
    dep[k.strip()] = v.split()
byname = {}
for k in dep:
    n = k.rsplit("/", 1)[-1].split(".ko")[0]
    byname[n.replace("-", "_")] = k
out = []
def visit(k):
    if k in out:
        return
    for d in reversed(dep.get(k, [])):
        visit(d)
    out.append(k)
for n in sys.argv[3:]:
    if n in byname:
        visit(byname[n])
    elif n not in builtin:
        raise SystemExit("module %s is neither in modules.dep nor built in" % n)
print("\n".join(out))
EOF
}

build_initramfs() {
	local ir=$BUILD/initramfs root m base inputs sum
	inputs=$(cat "$HERE/guest/init.sh" "$BUILD/crashmod/crashmod.ko" "$HOG" "$VMLINUZ" "${BASH_SOURCE[0]}" \
		"$KDIR/lib/modules/$REL/modules.dep" | md5sum | cut -d' ' -f1)
	INITRD=$ir/initrd.img
	if [ -f "$INITRD" ] && [ "$(cat "$ir/.inputs" 2>/dev/null)" = "$inputs" ]; then
		return
	fi
	log "building the initramfs for $REL"
	rm -rf "$ir" && mkdir -p "$ir"
	root=$ir/root
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,modules,boot}
	cp /bin/busybox "$root/bin/busybox"
	install -m 0755 "$HERE/guest/init.sh" "$root/init"
	copy_with_libs /usr/sbin/kexec "$root" # /usr/sbin/kexec from kexec-tools
	install -m 0755 "$HOG" "$root/bin/hog"
	install -m 0644 "$BUILD/crashmod/crashmod.ko" "$root/crashmod.ko"
	: >"$root/modules/order"
	local mods
	mods=$(modules_in_order virtio_pci virtio_blk) || die "cannot resolve virtio module dependencies for $REL"
	for m in $mods; do
		base=$(basename "$m")
		case "$base" in
		*.ko.xz) xz -dc "$KDIR/lib/modules/$REL/$m" >"$root/modules/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$KDIR/lib/modules/$REL/$m" >"$root/modules/${base%.zst}" ;;
		*.ko.gz) gzip -dc "$KDIR/lib/modules/$REL/$m" >"$root/modules/${base%.gz}" ;;
		*) cp "$KDIR/lib/modules/$REL/$m" "$root/modules/$base" ;;
		esac
		echo "${base%.ko*}.ko" >>"$root/modules/order"
	done
	# qemu_fw_cfg hands the guest's VMCOREINFO address to QEMU (-device vmcoreinfo);
	# loaded only for the dump-guest-memory run.
	mkdir -p "$root/modules/qemu"
	mods=$(modules_in_order qemu_fw_cfg) || die "cannot resolve qemu_fw_cfg dependencies for $REL"
	: >"$root/modules/qemu/order"
	for m in $mods; do
		grep -qx "$(basename "${m%.ko*}").ko" "$root/modules/order" && continue
		base=$(basename "$m")
		case "$base" in
		*.ko.xz) xz -dc "$KDIR/lib/modules/$REL/$m" >"$root/modules/qemu/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$KDIR/lib/modules/$REL/$m" >"$root/modules/qemu/${base%.zst}" ;;
		*) cp "$KDIR/lib/modules/$REL/$m" "$root/modules/qemu/$base" ;;
		esac
		echo "${base%.ko*}.ko" >>"$root/modules/qemu/order"
	done
	mknod -m 600 "$root/dev/console" c 5 1
	mknod -m 666 "$root/dev/null" c 1 3
	# capture.img: everything but /boot, for the capture kernel.
	(cd "$root" && find . -path ./boot -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
		gzip -9n >"$ir/capture.img"
	# initrd.img = capture.img + a second archive with /boot/{vmlinuz,capture.img}.
	mkdir -p "$ir/bootpart/boot"
	cp "$VMLINUZ" "$ir/bootpart/boot/vmlinuz"
	cp "$ir/capture.img" "$ir/bootpart/boot/capture.img"
	(cd "$ir/bootpart" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1n >"$ir/boot.img"
	cat "$ir/capture.img" "$ir/boot.img" >"$INITRD"
	echo "$inputs" >"$ir/.inputs"
}

# ---------------------------------------------------------------- one dump
# panic_pattern SCENARIO: an extended regex the kernel log must contain.
panic_pattern() {
	case "$1" in
	sysrq-c | qemu-sysrq-c) echo 'Kernel panic - not syncing: sysrq triggered crash' ;;
	module-null-deref) echo 'BUG: kernel NULL pointer dereference, address: 0000000000000008' ;;
	bug) echo 'kernel BUG at .*crashmod\.c' ;;
	panic) echo 'Kernel panic - not syncing: crashmod: deliberate panic from module' ;;
	warn) echo 'Kernel panic - not syncing: .*panic_on_warn' ;;
	hung-task) echo 'Kernel panic - not syncing: hung_task: blocked tasks' ;;
	soft-lockup) echo 'Kernel panic - not syncing: softlockup: hung tasks' ;;
	oom) echo 'Kernel panic - not syncing: Out of memory' ;;
	*) die "no panic pattern for scenario $1" ;;
	esac
}

# The files that make a dump complete (re-runs skip complete dumps).
kdump_outputs() {
	local f="ORIGIN.md console.log vmcore.elf-d$DUMPLEVEL vmcore.kdump-zlib vmcore.kdump-lzo vmcore.flat
	  vmcore.split-1 vmcore.split-2"
	[ "$DUMPLEVEL" = 31 ] || f="$f vmcore.kdump-zlib-d31-misfiltered"
	echo "$f"
}
ref_outputs() {
	echo "ref/dmesg.makedumpfile.txt ref/vmcoreinfo.txt ref/crash-sys.txt ref/crash-log.txt
	  ref/crash-bt.txt ref/crash-bt-a.txt ref/crash-mod.txt ref/crash-ps.txt
	  ref/crash-foreach-un-bt.txt ref/drgn-dmesg.txt ref/drgn-ps.txt ref/drgn-modules.txt
	  ref/drgn-bt.txt ref/oops-calltrace.txt ref/tools.txt"
}
is_complete() {
	local dir=$1 f
	[ -e "$dir/.complete" ] || return 1
	for f in $2; do [ -s "$dir/$f" ] || [ "$f" = ref/crash-foreach-un-bt.txt -a -e "$dir/$f" ] || return 1; done
}

TOOLS_LOG=
tool_time() { # tool_time LABEL START
	printf '%-58s %8ss\n' "$1" "$(since "$2")" >>"$TOOLS_LOG"
}

# boot_guest SCENARIO DIR MEM CRASHKERNEL KDUMP(1|0): run QEMU; sets BOOT_SECS.
boot_guest() {
	local scen=$1 dir=$2 mem=$3 ck=$4 kdump=$5 work append extra=() t0 qpid rc=0
	work=$CACHE_DIR/work/$REL/$(basename "$(dirname "$dir")")-$scen
	rm -rf "$work" && mkdir -p "$work"
	DISK=$work/disk.raw
	truncate -s "$(($(numfmt --from=iec "$mem") + 64 * 1024 * 1024))" "$DISK"
	if [ "$kdump" = 1 ]; then
		append="console=ttyS0 crashkernel=$ck panic=1 corpus_scenario=$scen"
	else
		append="console=ttyS0 panic=0 corpus_scenario=${scen#qemu-} corpus_kdump=0"
		extra=(-device vmcoreinfo -monitor unix:"$work/mon.sock",server=on,wait=off)
	fi
	# shellcheck disable=SC2207
	QEMU_CMD=(qemu-system-x86_64 $(qemu_cpu_args) -machine pc -smp 2 -m "$mem"
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$append"
		-display none -nodefaults -no-reboot -serial file:"$dir/console.log"
		-drive file="$DISK",format=raw,if=virtio "${extra[@]}")
	log "$REL/$scen: booting ($ACCEL, $mem RAM${ck:+, crashkernel=$ck})"
	t0=$(now)
	rm -f "$dir/console.log"
	if [ "$kdump" = 1 ]; then
		timeout "$BOOT_TIMEOUT" "${QEMU_CMD[@]}" >"$work/qemu.log" 2>&1 || rc=$?
		BOOT_SECS=$(since "$t0")
		[ $rc = 124 ] && log "$REL/$scen: QEMU timed out after ${BOOT_TIMEOUT}s"
		[ $rc = 0 ] || [ $rc = 124 ] || log "$REL/$scen: QEMU exited with $rc: $(tr '\n' ' ' <"$work/qemu.log")"
	else
		timeout "$BOOT_TIMEOUT" "${QEMU_CMD[@]}" >"$work/qemu.log" 2>&1 &
		qpid=$!
		local i=0
		while ! grep -q -- '---\[ end Kernel panic' "$dir/console.log" 2>/dev/null; do
			kill -0 $qpid 2>/dev/null || break
			i=$((i + 1))
			[ $i -lt $((BOOT_TIMEOUT * 2)) ] || break
			sleep 0.5
		done
		BOOT_SECS=$(since "$t0")
		if grep -q -- '---\[ end Kernel panic' "$dir/console.log" 2>/dev/null; then
			sleep 1
			QEMU_DUMP_SECS=
			qemu_dumps "$work/mon.sock" "$dir"
		fi
		kill $qpid 2>/dev/null || true
		wait $qpid 2>/dev/null || true
	fi
}

qemu_dumps() {
	local sock=$1 dir=$2 f opt t0 out
	QEMU_DUMP_LOG=""
	for f in elf snappy zlib lzo; do
		case $f in elf) opt="" ;; snappy) opt="-s" ;; zlib) opt="-z" ;; lzo) opt="-l" ;; esac
		rm -f "$dir/vmcore.qemu-$f"
		t0=$(now)
		out=$("$PY" "$HERE/corpus.py" hmp "$sock" "dump-guest-memory $opt $dir/vmcore.qemu-$f" 2>&1) ||
			out="$out (HMP connection failed)"
		if [ -s "$dir/vmcore.qemu-$f" ] && [ -z "$out" ]; then
			QEMU_DUMP_LOG+="dump-guest-memory${opt:+ $opt} vmcore.qemu-$f: $(since "$t0")s"$'\n'
		else
			rm -f "$dir/vmcore.qemu-$f"
			QEMU_DUMP_LOG+="dump-guest-memory${opt:+ $opt} vmcore.qemu-$f: FAILED: $(echo $out)"$'\n'
			log "WARNING: QEMU dump-guest-memory${opt:+ $opt} failed: $(echo $out)"
		fi
	done
	"$PY" "$HERE/corpus.py" hmp "$sock" quit >/dev/null 2>&1 || true
}

# refs DIR DUMPFILE ELF: reference outputs from crash, drgn, makedumpfile.
make_refs() {
	local dir=$1 dump=$2 elf=$3 t0 rels
	mkdir -p "$dir/ref"
	(
		cd "$dir"
		t0=$(now)
		if ! makedumpfile --dump-dmesg "$elf" ref/dmesg.makedumpfile.txt >>ref/makedumpfile.log 2>&1; then
			[ "$elf" = vmcore.elf ] && die "makedumpfile --dump-dmesg failed in $dir (ref/makedumpfile.log)"
			{
				echo "ERROR: makedumpfile $(makedumpfile -v 2>&1 | head -n1 | grep -o '1\.[0-9.]*') --dump-dmesg $elf failed:"
				tr '\r' '\n' <ref/makedumpfile.log | grep -v '^[[:space:]]*$'
			} >ref/dmesg.makedumpfile.txt
			log "WARNING: makedumpfile --dump-dmesg $elf failed in $dir (recorded in ref/dmesg.makedumpfile.txt)"
		fi
		tool_time "makedumpfile --dump-dmesg $elf" "$t0"
		"$PY" "$HERE/corpus.py" vmcoreinfo "$elf" ref/vmcoreinfo.txt ||
			die "no VMCOREINFO note in $dir/$elf"
		"$PY" "$HERE/corpus.py" calltrace ref/dmesg.makedumpfile.txt ref/oops-calltrace.txt
		t0=$(now)
		rm -f ref/crash-*.txt
		# shellcheck disable=SC2086
		crash -s $CRASH_FLAGS "$VMLINUX" "$dump" >ref/crash-session.log 2>&1 <<-EOF || true
			sys > ref/crash-sys.txt
			log > ref/crash-log.txt
			bt > ref/crash-bt.txt
			bt -a > ref/crash-bt-a.txt
			mod > ref/crash-mod.txt
			ps > ref/crash-ps.txt
			foreach UN bt > ref/crash-foreach-un-bt.txt
			exit
		EOF
		tool_time "crash -s ${CRASH_FLAGS:+$CRASH_FLAGS }vmlinux $dump (7 commands)" "$t0"
		for f in ref/crash-sys.txt ref/crash-log.txt ref/crash-bt.txt ref/crash-bt-a.txt \
			ref/crash-mod.txt ref/crash-ps.txt ref/crash-foreach-un-bt.txt; do
			[ -e "$f" ] || { echo "ERROR: crash produced no output; see crash-session.log" >"$f"; }
			if [ ! -s "$f" ] && [ "$f" != ref/crash-foreach-un-bt.txt ]; then
				echo "ERROR: crash $(crash --version 2>/dev/null | grep -m1 -o '[0-9][0-9.]*') printed nothing for this command; see crash-session.log" >"$f"
			fi
			sed -i -e "s|$(dirname "$VMLINUX")/||g" -e "s|$dir/||g" -e "s|$CACHE_DIR/[^ ]*/||g" "$f"
		done
		sed -i -e "s|$(dirname "$VMLINUX")/||g" -e "s|$dir/||g" ref/crash-session.log
		t0=$(now)
		"$PY" "$HERE/drgn_refs.py" "$dump" ref "$VMLINUX" "$BUILD/crashmod/crashmod.ko" \
			$(find "$KDIR/usr/lib/debug/lib/modules" -name '*.ko*' 2>/dev/null) >ref/drgn.log 2>&1 ||
			echo "drgn_refs.py exited with $?" >>ref/drgn.log
		sed -i -e "s|$KDIR/||g" -e "s|$BUILD/crashmod/||g" -e "s|$BUILD/||g" -e "s|$HERE/|testdata/corpus/|g" ref/drgn*
		tool_time "drgn (python3-drgn) on $dump" "$t0"
	)
}

# check_crash_log DIR SCENARIO: crash's log must show the scenario's panic.
check_crash_log() {
	local dir=$1 scen=$2 pat
	pat=$(panic_pattern "$scen")
	if ! grep -qE "$pat" "$dir/ref/crash-log.txt"; then
		# crash 8.0.2 does not support kernels >= 6.4 (CRASH_FLAGS set): there a
		# failing 'log' is recorded, and makedumpfile's dmesg must show the panic.
		if [ -n "$CRASH_FLAGS" ] && grep -qE "$pat" "$dir/ref/dmesg.makedumpfile.txt"; then
			log "WARNING: $REL/$scen: crash 'log' fails on this kernel (see ref/crash-session.log); the panic is in makedumpfile's dmesg"
			echo "crash $(crash --version 2>/dev/null | grep -m1 -o '[0-9][0-9.]*') 'log' failed on this dump (unsupported kernel); panic checked in ref/dmesg.makedumpfile.txt instead" >>"$dir/.warnings"
			return
		fi
		die "$REL/$scen: crash 'log' of $dir does not show the panic /$pat/ (see ref/crash-log.txt, ref/crash-session.log)"
	fi
	log "$REL/$scen: crash log shows: $(grep -m1 -oE "$pat.*" "$dir/ref/crash-log.txt")"
}

write_origin() {
	local dir=$1 scen=$2 mem=$3 ck=$4 kind=$5
	{
		echo "# $REL / $scen"
		echo
		echo "* Kernel: Debian \`linux-image-$REL\` $KVER (debug info: \`linux-image-$REL-dbg\` $KVER, \`usr/lib/debug/boot/vmlinux-$REL\`)"
		echo "* Kernel build: $(grep -m1 -o 'Linux version .*' "$dir/console.log" | tr -d '\r')"
		echo "* Scenario: \`$scen\` — $(scenario_text "${scen#qemu-}")"
		echo "* Expected log line (checked in crash \`log\`): \`$(panic_pattern "$scen")\`"
		echo "* Guest: QEMU $(qemu-system-x86_64 --version | head -n1 | sed 's/^QEMU emulator version //'), accel **$ACCEL**, 2 vCPUs, $mem RAM${ck:+, crashkernel=$ck}"
		echo "* Capture: $kind"
		echo "* crashmod.ko: built from testdata/corpus/crashmod/ against \`linux-headers-$REL\` $KVER (unsigned: taints OE)"
		echo "* Generated by testdata/corpus/make.sh on $(date -u +%Y-%m-%d)"
		echo
		echo '## Commands'
		echo
		echo '```'
		printf '%q ' "${QEMU_CMD[@]}" | sed -e "s|$dir/||g" -e "s|$CACHE_DIR/||g"
		echo
		cat "$dir/.cmds"
		echo '```'
		if [ -s "$dir/.warnings" ]; then
			echo
			echo '## Tool messages'
			echo
			echo '```'
			cat "$dir/.warnings"
			echo '```'
		fi
	} >"$dir/ORIGIN.md"
}

scenario_text() {
	case "$1" in
	sysrq-c) echo '`echo c > /proc/sysrq-trigger` (panic("sysrq triggered crash"))' ;;
	module-null-deref) echo 'crashmod writes through a NULL pointer in crashmod_null_deref() -> Oops -> panic_on_oops' ;;
	bug) echo 'crashmod calls BUG() -> Oops (invalid opcode) -> panic_on_oops' ;;
	panic) echo 'crashmod calls panic("crashmod: deliberate panic from module")' ;;
	warn) echo 'kernel.panic_on_warn=1, crashmod calls WARN()' ;;
	hung-task) echo 'kernel.hung_task_panic=1, hung_task_timeout_secs=5; crashmod locks its mutex twice (D state)' ;;
	soft-lockup) echo 'kernel.softlockup_panic=1, watchdog_thresh=3; crashmod spins with preemption disabled' ;;
	oom) echo 'vm.panic_on_oom=1, overcommit_memory=1; a static memory hog touches memory until OOM' ;;
	esac
}

# clean_mdf_log FILE: drop makedumpfile's \r progress meters, keep its messages.
clean_mdf_log() {
	[ -e "$1" ] || return 0
	tr '\r' '\n' <"$1" | grep -vE '^(Checking for memory holes|Excluding unnecessary pages|Excluding free pages|Copying data|Copying [a-z ]+) *: \[' |
		grep -v '^[[:space:]]*$' >"$1.tmp" || true
	mv "$1.tmp" "$1"
}

run_makedumpfile() { # run_makedumpfile DIR LABEL ARGS... (stdout: to the dump file for -F)
	local dir=$1 label=$2 t0
	shift 2
	t0=$(now)
	echo "makedumpfile $*" >>"$dir/.cmds"
	if ! (cd "$dir" && makedumpfile "$@") >>"$dir/ref/makedumpfile.log" 2>&1; then
		die "$REL/$(basename "$dir"): makedumpfile $* failed (see $dir/ref/makedumpfile.log)"
	fi
	tool_time "makedumpfile $label" "$t0"
}

# make_kdump_dump SCENARIO DIR MEM CRASHKERNEL FORMATS(all|small)
make_kdump_dump() {
	local scen=$1 dir=$2 mem=$3 ck=$4 formats=$5 size elf files
	files="ORIGIN.md console.log vmcore.kdump-zlib $(ref_outputs)"
	[ "$formats" = all ] && files="$files $(kdump_outputs)" || files="$files vmcore.flat"
	if is_complete "$dir" "$files"; then
		log "$REL/$scen: complete, skipping ($dir)"
		return
	fi
	rm -rf "$dir" && mkdir -p "$dir/ref"
	TOOLS_LOG=$dir/ref/tools.txt
	: >"$dir/.cmds"
	boot_guest "$scen" "$dir" "$mem" "$ck" 1
	local pat
	pat=$(panic_pattern "$scen")
	if ! grep -qE "$pat" "$dir/console.log"; then
		die "$REL/$scen: the scenario did not panic (no /$pat/ on the console); console log kept: $dir/console.log"
	fi
	if ! grep -q 'CORPUS: capture done' "$dir/console.log"; then
		die "$REL/$scen: the kernel panicked but the capture kernel did not save /proc/vmcore; console log kept: $dir/console.log"
	fi
	size=$("$PY" "$HERE/corpus.py" elfsize "$DISK") || die "$REL/$scen: no ELF vmcore on the capture disk ($DISK)"
	local want
	want=$(sed -n 's/^VMCORE_SIZE=\([0-9]*\).*/\1/p' "$dir/console.log" | tr -d '\r' | tail -n1)
	[ -z "$want" ] || [ "$want" = "$size" ] || log "WARNING: /proc/vmcore was $want bytes, ELF headers say $size"
	elf=$dir/vmcore.elf
	mv "$DISK" "$elf"
	truncate -s "$size" "$elf"
	rm -rf "$(dirname "$DISK")"
	log "$REL/$scen: captured raw ELF vmcore ($((size / 1048576)) MiB) in ${BOOT_SECS}s"
	{
		echo "# tool versions"
		echo "qemu: $(qemu-system-x86_64 --version | head -n1)"
		echo "makedumpfile: $(makedumpfile -v 2>&1 | head -n1)"
		echo "crash: $(crash --version 2>/dev/null | grep -m1 -o 'crash [0-9.]*')"
		echo "drgn: $("$PY" -c 'import drgn; print(drgn.__version__)') (python3-drgn $(dpkg-query -W -f='${Version}' python3-drgn))"
		echo "kernel: linux-image-$REL $KVER"
		echo "# seconds"
		printf '%-58s %8ss\n' "qemu boot+panic+capture ($ACCEL, $mem)" "$BOOT_SECS"
	} >"$TOOLS_LOG"
	echo "# the raw ELF vmcore.elf is /proc/vmcore copied by dd in the capture kernel" >>"$dir/.cmds"
	run_makedumpfile "$dir" "-c -d $DUMPLEVEL (kdump-zlib)" -c -d $DUMPLEVEL vmcore.elf vmcore.kdump-zlib
	(cd "$dir" && rm -f vmcore.flat)
	local t0
	t0=$(now)
	echo "makedumpfile -F -c -d $DUMPLEVEL vmcore.elf > vmcore.flat" >>"$dir/.cmds"
	(cd "$dir" && makedumpfile -F -c -d $DUMPLEVEL vmcore.elf >vmcore.flat 2>>ref/makedumpfile.log) ||
		die "$REL/$scen: makedumpfile -F failed (see $dir/ref/makedumpfile.log)"
	tool_time "makedumpfile -F -c -d $DUMPLEVEL (flat)" "$t0"
	if [ "$formats" = all ]; then
		run_makedumpfile "$dir" "-E -d $DUMPLEVEL (elf)" -E -d $DUMPLEVEL vmcore.elf vmcore.elf-d$DUMPLEVEL
		run_makedumpfile "$dir" "-l -d $DUMPLEVEL (kdump-lzo)" -l -d $DUMPLEVEL vmcore.elf vmcore.kdump-lzo
		# The default split block is 1 GB: with a smaller guest every page lands in
		# vmcore.split-1 and vmcore.split-2 is empty. 1 MB blocks give a real split.
		run_makedumpfile "$dir" "--split -c -d $DUMPLEVEL (2 files)" --split --splitblock-size 1024 -c -d $DUMPLEVEL vmcore.elf vmcore.split-1 vmcore.split-2
		if [ "$DUMPLEVEL" != 31 ]; then
			run_makedumpfile "$dir" "-c -d 31 (misfiltered on this kernel)" -c -d 31 vmcore.elf vmcore.kdump-zlib-d31-misfiltered
		fi
	fi
	echo "makedumpfile --dump-dmesg vmcore.elf ref/dmesg.makedumpfile.txt" >>"$dir/.cmds"
	echo "crash -s ${CRASH_FLAGS:+$CRASH_FLAGS }vmlinux-$REL vmcore.kdump-zlib   # stdin: sys, log, bt, bt -a, mod, ps, foreach UN bt (each '> ref/crash-*.txt')" >>"$dir/.cmds"
	echo "/usr/bin/python3 testdata/corpus/drgn_refs.py vmcore.kdump-zlib ref vmlinux-$REL crashmod.ko <virtio module debug files>" >>"$dir/.cmds"
	make_refs "$dir" vmcore.kdump-zlib vmcore.elf
	clean_mdf_log "$dir/ref/makedumpfile.log"
	grep -vE '^(makedumpfile Completed|The dumpfiles? (is|are) saved|The dmesg log is saved)' "$dir/ref/makedumpfile.log" |
		sort | uniq -c | sort -rn >"$dir/.warnings" || true
	check_crash_log "$dir" "$scen"
	cp "$BUILD/crashmod/crashmod.ko" "$dir/ref/crashmod.ko"
	write_origin "$dir" "$scen" "$mem" "$ck" "kdump: panic -> crash_kexec -> capture kernel (\`irqpoll nr_cpus=1 maxcpus=1 reset_devices\`) -> \`dd if=/proc/vmcore of=/dev/vda\`"
	rm -f "$dir/.cmds" "$dir/.warnings"
	if [ "$KEEP_ELF" != 1 ]; then rm -f "$elf"; fi
	chmod -R a+rX "$dir"
	touch "$dir/.complete"
	log "$REL/$scen: done: $(du -sh "$dir" | cut -f1) in $dir"
}

make_qemu_dump() {
	local scen=qemu-sysrq-c dir=$1 files
	# -s (snappy) and -l (lzo) are missing when QEMU was built without them
	# (Debian's 7.2 is): they are tried, and a failure is recorded, not fatal.
	files="ORIGIN.md console.log vmcore.qemu-elf vmcore.qemu-zlib $(ref_outputs)"
	if is_complete "$dir" "$files"; then
		log "$REL/$scen: complete, skipping ($dir)"
		return
	fi
	rm -rf "$dir" && mkdir -p "$dir/ref"
	TOOLS_LOG=$dir/ref/tools.txt
	: >"$dir/.cmds"
	QEMU_DUMP_LOG=
	boot_guest "$scen" "$dir" "$GUEST_MEM" "" 0
	grep -qE "$(panic_pattern $scen)" "$dir/console.log" ||
		die "$REL/$scen: the scenario did not panic; console log kept: $dir/console.log"
	[ -s "$dir/vmcore.qemu-elf" ] || die "$REL/$scen: QEMU dump-guest-memory wrote nothing (see $dir/.hmp.log)"
	{
		echo "# tool versions"
		echo "qemu: $(qemu-system-x86_64 --version | head -n1)"
		echo "makedumpfile: $(makedumpfile -v 2>&1 | head -n1)"
		echo "crash: $(crash --version 2>/dev/null | grep -m1 -o 'crash [0-9.]*')"
		echo "drgn: $("$PY" -c 'import drgn; print(drgn.__version__)')"
		echo "# seconds"
		printf '%-58s %8ss\n' "qemu boot until panic ($ACCEL, $GUEST_MEM)" "$BOOT_SECS"
		printf '%s' "$QEMU_DUMP_LOG" | awk '{i=index($0, ": "); printf "%-58s %8s\n", substr($0, 1, i-1), substr($0, i+2)}'
	} >"$TOOLS_LOG"
	printf '%s' "$QEMU_DUMP_LOG" | grep FAILED >"$dir/.warnings" || true
	{
		echo "# after the panic (panic=0: the guest stays halted), on the HMP monitor:"
		echo "dump-guest-memory vmcore.qemu-elf"
		echo "dump-guest-memory -s vmcore.qemu-snappy   # kdump-compressed, written flattened by QEMU 7.2"
		echo "dump-guest-memory -z vmcore.qemu-zlib"
		echo "dump-guest-memory -l vmcore.qemu-lzo"
		echo "makedumpfile --dump-dmesg vmcore.qemu-elf ref/dmesg.makedumpfile.txt"
		echo "crash -s ${CRASH_FLAGS:+$CRASH_FLAGS }vmlinux-$REL vmcore.qemu-elf   # stdin: sys, log, bt, bt -a, mod, ps, foreach UN bt"
		echo "/usr/bin/python3 testdata/corpus/drgn_refs.py vmcore.qemu-elf ref vmlinux-$REL crashmod.ko ..."
	} >>"$dir/.cmds"
	make_refs "$dir" vmcore.qemu-elf vmcore.qemu-elf
	clean_mdf_log "$dir/ref/makedumpfile.log"
	grep -vE '^(makedumpfile Completed|The dumpfiles? (is|are) saved|The dmesg log is saved)' "$dir/ref/makedumpfile.log" |
		sed 's/^/makedumpfile: /' >>"$dir/.warnings" || true
	check_crash_log "$dir" "$scen"
	cp "$BUILD/crashmod/crashmod.ko" "$dir/ref/crashmod.ko"
	write_origin "$dir" "$scen" "$GUEST_MEM" "" "QEMU \`dump-guest-memory\` over the HMP monitor after the panic (no kdump; \`-device vmcoreinfo\`, \`panic=0\`)"
	rm -f "$dir/.cmds" "$dir/.warnings" "$dir/.hmp.log"
	chmod -R a+rX "$dir"
	touch "$dir/.complete"
	log "$REL/$scen: done: $(du -sh "$dir" | cut -f1) in $dir"
}

make_fixtures() {
	local scen dir dest
	for scen in $FIXTURE_SCENARIOS; do
		dir=$CORPUS_DIR/fixtures/$REL/$scen
		make_kdump_dump "$scen" "$dir" "$FIXTURE_MEM" "$FIXTURE_CRASHKERNEL" small
		dest=$ROOT/testdata/dumps/$REL/$scen
		rm -rf "$dest" && mkdir -p "$dest/ref"
		cp "$dir/vmcore.kdump-zlib" "$dir/console.log" "$dir/ORIGIN.md" "$dest/"
		case " $FIXTURE_FLAT " in *" $scen "*) cp "$dir/vmcore.flat" "$dest/" ;; esac
		cp "$dir"/ref/*.txt "$dest/ref/"
		cp "$dir/ref/crashmod.ko" "$dest/ref/"
		log "fixture $dest: $(du -sh "$dest" | cut -f1)"
	done
}

# ---------------------------------------------------------------- main
main() {
	local t_all k scen
	t_all=$(now)
	install_host_tools
	for k in $KERNELS; do
		resolve_kernel "$k"
		prepare_kernel
		[ -n "${ACCEL_DONE:-}" ] || { detect_accel "$VMLINUZ"; ACCEL_DONE=1; }
		build_module
		build_hog
		build_initramfs
		for scen in $SCENARIOS; do
			make_kdump_dump "$scen" "$CORPUS_DIR/$REL/$scen" "$GUEST_MEM" "$CRASHKERNEL" all
		done
		[ "$QEMU_DUMP" = 1 ] && make_qemu_dump "$CORPUS_DIR/$REL/qemu-sysrq-c"
		if [ "$FIXTURES" = 1 ] && [[ " $FIXTURE_KERNELS " == *" $k "* || " $FIXTURE_KERNELS " == *" $REL "* ]]; then
			make_fixtures
		fi
	done
	log "all done in $(since "$t_all")s ($ACCEL); corpus: $(du -sh "$CORPUS_DIR" | cut -f1) in $CORPUS_DIR"
}
main
