#!/bin/bash
# Generate the crash-dump corpus: real kdump vmcores of Debian kernels (amd64 and
# arm64) booted in QEMU, converted to every makedumpfile / QEMU format, with
# reference outputs of makedumpfile, crash and drgn. See testdata/corpus/README.md.
#
#   testdata/corpus/make.sh [KERNEL...]
#
# KERNEL is a word, a word:ARCH, an exact release, or "fleet":
#   5.10      Debian 11 bullseye   linux-image-5.10.0-NN-ARCH
#   6.1       Debian 12 bookworm   linux-image-6.1.0-NN-ARCH
#   6.12      Debian 13 trixie     linux-image-6.12.NN+deb13-ARCH
#   6.12-bpo  Debian 12 backports  linux-image-6.12.NN+deb12-ARCH
#   ARCH: amd64 | arm64 | arm64-16k (a word without :ARCH is made for each of $ARCHS)
#   fleet     5.10:amd64 5.10:arm64 6.1:amd64 6.1:arm64 6.12:amd64 6.12:arm64 6.12:arm64:va48
#             6.12:arm64-16k 6.12:arm64-16k:va48
#   A third part is a CPU variant: va48 = an arm64 CPU without LPA2 (trixie's 52-bit-VA
#   kernels run with 48-bit VAs); its dumps go to <release>/<scenario>-va48/.
#   e.g.  make.sh 6.1 6.1:arm64 6.12:arm64-16k 6.1.0-57-arm64
#
# Environment (all optional):
#   KERNELS="6.1"          kernels when no argument is given (default: 6.1)
#   ARCHS="amd64"          architectures of a word given without :ARCH (default: amd64)
#   KERNEL_PINS="6.1:amd64=6.1.0-56-amd64 ..."  the release a word:ARCH resolves to
#                          (default: those of the committed fixtures; else the newest served)
#   SCENARIOS="..."        scenarios (default: all kdump scenarios, see ALL_SCENARIOS)
#   QEMU_DUMP=1            also make the QEMU dump-guest-memory dump (qemu-sysrq-c)
#   FIXTURES=0|1           also make the small fixtures (default 0)
#   FIXTURE_KERNELS="6.1:amd64"  kernels (tokens as above, or releases) that get fixtures
#   FIXTURE_DEST=...       where fixtures go (default: testdata/dumps/<release> when that
#                          directory is committed already, else $CACHE_DIR/fixtures)
#   CORPUS_DIR=...         output (default: <repo>/.cache/corpus)
#   CACHE_DIR=...          downloads, kernels, builds (default: <repo>/.cache)
#   GUEST_MEM=512M CRASHKERNEL=192M     guest RAM and crashkernel= of the corpus
#   FIXTURE_SCENARIOS="sysrq-c module-null-deref"
#   FIXTURE_FLAT="sysrq-c"  also copy these fixtures' vmcore.flat (default: none)
#   FIXTURE_MEM=320M FIXTURE_CRASHKERNEL=112M  guest RAM and crashkernel= of the fixtures
#                          (default: amd64 320M/112M, arm64 384M/160M, arm64-16k 512M/160M)
#   QEMU_CPU_ARM64=max,pauth-impdef=on   the arm64 guests' CPU (lpa2=off: 48-bit VAs on trixie)
#   ACCEL=auto|kvm|tcg     (default auto: KVM if a test guest runs, else TCG; arm64: TCG)
#   KEEP_ELF=1             keep the raw ELF vmcore.elf (default: delete it)
#   NO_APT=1               do not touch apt (sources, host packages)
#   DRGN_PYTHONPATH=DIR    a drgn >= 0.2.0 build (README: "drgn"); default: Debian's python3-drgn
#   MAKEDUMPFILE_UPSTREAM=FILE        an upstream makedumpfile for x86_64 dumps, and
#   MAKEDUMPFILE_UPSTREAM_ARM64=FILE  one for arm64 dumps (built with TARGET=aarch64 or for
#                          aarch64): adds ref/dmesg.makedumpfile-upstream.txt, and converts
#                          the dumps Debian's makedumpfile refuses (arm64 52-bit VA)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-$ROOT/.cache}
CORPUS_DIR=${CORPUS_DIR:-$ROOT/.cache/corpus}
mkdir -p "$CACHE_DIR" "$CORPUS_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
CORPUS_DIR=$(cd "$CORPUS_DIR" && pwd)
DEBS=$CACHE_DIR/debs
# One make.sh per cache: a second one would rebuild an initramfs or remove a dump
# directory under the first one's QEMU.
exec 9>"$CACHE_DIR/.make.lock"
flock -n 9 || { echo "make.sh: ERROR: another make.sh is running with CACHE_DIR=$CACHE_DIR" >&2; exit 1; }
ALL_SCENARIOS="sysrq-c module-null-deref bug panic hung-task soft-lockup warn oom
  mutex-deadlock oom-cgroup hung-io soft-lockup-runq"
SCENARIOS=${SCENARIOS-$ALL_SCENARIOS}
FLEET="5.10:amd64 5.10:arm64 6.1:amd64 6.1:arm64 6.12:amd64 6.12:arm64 6.12:arm64:va48 6.12:arm64-16k
  6.12:arm64-16k:va48"
ARCHS=${ARCHS:-amd64}
# The committed fixtures and the README's numbers are of these releases.
KERNEL_PINS=${KERNEL_PINS-"6.1:amd64=6.1.0-56-amd64 6.12-bpo:amd64=6.12.117+deb12-amd64"}
QEMU_DUMP=${QEMU_DUMP:-1}
FIXTURES=${FIXTURES:-0}
FIXTURE_SCENARIOS=${FIXTURE_SCENARIOS:-"sysrq-c module-null-deref"}
FIXTURE_KERNELS=${FIXTURE_KERNELS:-6.1:amd64}
FIXTURE_FLAT=${FIXTURE_FLAT-}
FIXTURE_DEST=${FIXTURE_DEST-}
GUEST_MEM=${GUEST_MEM:-512M}
CRASHKERNEL=${CRASHKERNEL:-192M}
# The smallest guests that still reserve the crash kernel and load it (per Debian
# architecture; FIXTURE_MEM / FIXTURE_CRASHKERNEL override both). arm64 at 320M:
# "cannot allocate crashkernel (size:0x7000000)"; an arm64 capture kernel in 112M runs
# out of memory while it boots ("System is deadlocked on memory").
# The 16k kernel cannot reserve 160M of 384M either: it gets 512M.
declare -A FIXTURE_MEM_ARCH=([amd64]=${FIXTURE_MEM:-320M} [arm64]=${FIXTURE_MEM:-384M} [arm64-16k]=${FIXTURE_MEM:-512M})
declare -A FIXTURE_CK_ARCH=([amd64]=${FIXTURE_CRASHKERNEL:-112M} [arm64]=${FIXTURE_CRASHKERNEL:-160M} [arm64-16k]=${FIXTURE_CRASHKERNEL:-160M})
KEEP_ELF=${KEEP_ELF:-0}
ACCEL=${ACCEL:-auto}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-1200}
PY=/usr/bin/python3 # Debian's python3 (python3-drgn lives there)
DRGN_PYTHONPATH=${DRGN_PYTHONPATH-}
MAKEDUMPFILE_UPSTREAM=${MAKEDUMPFILE_UPSTREAM-}
MAKEDUMPFILE_UPSTREAM_ARM64=${MAKEDUMPFILE_UPSTREAM_ARM64-}
if [ $# -gt 0 ]; then KERNELS="$*"; else KERNELS=${KERNELS:-6.1}; fi

# Debian's docker images switch APT's binary cache off (Dir::Cache::pkgcache ""): every
# apt-cache call would parse all package lists (~7 s). Keep one under $CACHE_DIR.
APT_OPTS=(-o Dir::Cache::pkgcache="$CACHE_DIR/apt/pkgcache.bin" -o Dir::Cache::srcpkgcache="$CACHE_DIR/apt/srcpkgcache.bin")
mkdir -p "$CACHE_DIR/apt"
apt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }
apt_get() { apt-get "${APT_OPTS[@]}" "$@"; }

log() { printf '%s make.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '%s make.sh: ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# ---------------------------------------------------------------- architectures
# One row per kernel flavour; a flavour is the suffix of a Debian kernel release.
declare -A DEB_ARCH=([amd64]=amd64 [arm64]=arm64 [arm64-16k]=arm64)
# The rest is per Debian architecture.
declare -A QEMU_SYSTEM=([amd64]=qemu-system-x86_64 [arm64]=qemu-system-aarch64)
declare -A QEMU_MACHINE=([amd64]=pc [arm64]=virt,gic-version=3)
# TCG CPU models. x86: no 5-level paging (the starter dumps' CPU). arm64: `max` has
# pointer authentication (the impdef algorithm is the fast one under TCG), LPA2 and
# 16 KiB granules; cortex-a57 has no 16 KiB granule.
declare -A QEMU_CPU_TCG=([amd64]=max,la57=off [arm64]=${QEMU_CPU_ARM64:-max,pauth-impdef=on})
# CPU variants (a kernel token's third part): the arm64 CPU without FEAT_LPA2, as on
# most arm64 servers: trixie's VA_BITS=52 kernels then run with 48-bit VAs.
declare -A CPU_VARIANT=([va48]=",lpa2=off")
declare -A QEMU_DISK=([amd64]=virtio-blk-pci [arm64]=virtio-blk-pci)
declare -A CONSOLE=([amd64]=ttyS0 [arm64]=ttyAMA0)
declare -A KBUILD_ARCH=([amd64]=x86 [arm64]=arm64)
declare -A CROSS_COMPILE=([amd64]="" [arm64]=aarch64-linux-gnu-)
declare -A GNU_TYPE=([amd64]=x86_64-linux-gnu [arm64]=aarch64-linux-gnu)
# How a Debian binary of the dump's architecture runs on this (amd64) host.
declare -A QEMU_USER=([amd64]="" [arm64]=qemu-aarch64-static)
# Debian's crash reads x86_64 dumps only.
declare -A CRASH_REFS=([amd64]=1 [arm64]=0)
declare -A UPSTREAM_MDF=([amd64]=MAKEDUMPFILE_UPSTREAM [arm64]=MAKEDUMPFILE_UPSTREAM_ARM64)
# The Debian suite of a release (guest userland: busybox, kexec-tools, dmsetup).
suite_of() {
	case "$1" in
	5.10.*) echo bullseye ;;
	6.1.* | *+deb12-*) echo bookworm ;;
	*+deb13*) echo trixie ;;
	*) die "no Debian suite known for release $1" ;;
	esac
}
# The makedumpfile that converts the dumps and writes ref/dmesg.makedumpfile.txt is
# Debian 12's (1.7.2) of the dump's architecture, for every kernel.
MDF_SUITE=bookworm

# ---------------------------------------------------------------- host tools
HOST_PKGS="qemu-system-x86 qemu-system-arm qemu-user-static qemu-utils makedumpfile crash
  busybox-static cpio python3 python3-drgn gcc gcc-12 gcc-aarch64-linux-gnu gcc-12-aarch64-linux-gnu libc6-dev-arm64-cross make libc6-dev
  libelf-dev xz-utils zstd gzip binutils file kmod bc dwarves curl"
APT_UPDATED=0
apt_update_once() {
	[ "${NO_APT:-0}" = 1 ] && return 0
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		apt_get update -qq >&2 || die "apt-get update failed"
		APT_UPDATED=1
	fi
}
# The fleet's kernels come from bullseye, bookworm and trixie, for amd64 and arm64.
# Other suites are pinned to priority 1: apt downloads from them only by name.
setup_apt_sources() {
	[ "${NO_APT:-0}" = 1 ] && return 0
	local changed=0 src=/etc/apt/sources.list.d/corpus-kernels.sources pref=/etc/apt/preferences.d/corpus-kernels s
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		changed=1
	fi
	if [ ! -e "$src" ]; then
		cat >"$src" <<-'EOF'
			# testdata/corpus/make.sh: Debian 11 and 13 kernels for the crash-dump corpus (downloaded, never installed)
			Types: deb
			URIs: http://deb.debian.org/debian
			Suites: bullseye trixie
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb
			URIs: http://deb.debian.org/debian-security
			Suites: bullseye-security trixie-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		changed=1
	fi
	if [ ! -e "$pref" ]; then
		{
			echo "# testdata/corpus/make.sh: never install anything from bullseye or trixie by accident"
			for s in bullseye bullseye-security trixie trixie-security; do
				printf 'Package: *\nPin: release n=%s\nPin-Priority: 1\n\n' "$s"
			done
		} >"$pref"
		changed=1
	fi
	[ $changed = 0 ] || { APT_UPDATED=0; apt_update_once; }
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
	DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
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
# The accelerator of this kernel's guests: KVM runs only guests of the host's architecture.
guest_accel() { if [ "$DARCH" = amd64 ]; then echo "$ACCEL"; else echo tcg; fi; }
qemu_cpu_args() {
	if [ "$(guest_accel)" = kvm ]; then echo "-accel kvm -cpu host"; else echo "-accel tcg -cpu ${QEMU_CPU_TCG[$DARCH]}${VARIANT:+${CPU_VARIANT[$VARIANT]}}"; fi
}

# ---------------------------------------------------------------- kernels
# expand_kernels WORD...: one WORD:FLAVOUR or release per line.
expand_kernels() {
	local w a
	for w in "$@"; do
		case "$w" in
		fleet) printf '%s\n' $FLEET ;;
		*:*) echo "$w" ;;
		*-amd64 | *-arm64 | *-arm64-16k) echo "$w" ;;
		*) for a in $ARCHS; do echo "$w:$a"; done ;;
		esac
	done
}

# deb_served PKG[:ARCH][=VERSION]: the archive serves the .deb (some are listed in
# the Packages index but absent from the pool: bullseye-security's arm64 kernels).
deb_served() {
	local uri
	uri=$(apt_get download --print-uris "$1" 2>/dev/null | head -n1 | cut -d"'" -f2)
	[ -n "$uri" ] || return 1
	command -v curl >/dev/null || return 0
	curl -sfI -o /dev/null --max-time 30 "$uri"
}

# resolve_kernel TOKEN -> REL (release), FLAVOUR, DARCH (Debian arch), KVER (package
# version), SUITE, TOKEN (word:flavour when a word was given)
resolve_kernel() {
	local tok=$1 word pat cands c pin
	# a third part (or a second after a release) names a CPU variant
	VARIANT=
	case "$tok" in
	*-amd64:* | *-arm64:* | *-arm64-16k:*) VARIANT=${tok#*:} tok=${tok%%:*} ;;
	*:*:*) VARIANT=${tok##*:} tok=${tok%:*} ;;
	esac
	[ -z "$VARIANT" ] || [ -n "${CPU_VARIANT[$VARIANT]:-}" ] || die "unknown CPU variant '$VARIANT' (${!CPU_VARIANT[*]})"
	case "$tok" in
	*:*)
		word=${tok%%:*} FLAVOUR=${tok#*:}
		[ -n "${DEB_ARCH[$FLAVOUR]:-}" ] || die "unknown architecture '$FLAVOUR' in '$tok' (amd64, arm64, arm64-16k)"
		case "$word" in
		5.10) pat="^linux-image-5\\.10\\.0-[0-9]+-$FLAVOUR\$" ;;
		6.1) pat="^linux-image-6\\.1\\.0-[0-9]+-$FLAVOUR\$" ;;
		6.12) pat="^linux-image-6\\.12\\.[0-9]+\\+deb13(\\.[0-9]+)?-$FLAVOUR\$" ;;
		6.12-bpo) pat="^linux-image-6\\.12\\.[0-9]+\\+deb12-$FLAVOUR\$" ;;
		*) die "unknown kernel '$word' (use 5.10, 6.1, 6.12, 6.12-bpo, fleet or a release such as 6.1.0-56-amd64)" ;;
		esac
		REL=
		for pin in $KERNEL_PINS; do
			[ "${pin%%=*}" = "$tok" ] || continue
			if deb_served "linux-image-${pin#*=}:${DEB_ARCH[$FLAVOUR]}"; then
				REL=${pin#*=}
			else
				log "pinned kernel ${pin#*=} for $tok is not served; taking the newest"
			fi
		done
		if [ -z "$REL" ]; then
			cands=$(apt_cache pkgnames linux-image- 2>/dev/null | grep -E "$pat" || true)
			if [ -z "$cands" ]; then
				apt_update_once
				cands=$(apt_cache pkgnames linux-image- | grep -E "$pat" || true)
			fi
			[ -n "$cands" ] || die "no Debian package matches kernel '$tok' ($pat); are the apt sources set up (see setup_apt_sources)?"
			for c in $(echo "$cands" | sort -rV); do
				if deb_served "$c:${DEB_ARCH[$FLAVOUR]}"; then
					REL=${c#linux-image-}
					break
				fi
				log "$c is listed by apt but not served by the archive; trying an older one"
			done
			[ -n "$REL" ] || die "no package of kernel '$tok' can be downloaded"
		fi
		;;
	*)
		REL=$tok
		case "$REL" in
		*-arm64-16k) FLAVOUR=arm64-16k ;;
		*-arm64) FLAVOUR=arm64 ;;
		*-amd64) FLAVOUR=amd64 ;;
		*) die "unknown kernel '$tok'" ;;
		esac
		deb_served "linux-image-$REL:${DEB_ARCH[$FLAVOUR]}" || die "kernel package linux-image-$REL cannot be downloaded"
		;;
	esac
	DARCH=${DEB_ARCH[$FLAVOUR]}
	SUFFIX=${VARIANT:+-$VARIANT}
	SUITE=$(suite_of "$REL")
	KVER=$(apt_cache policy "linux-image-$REL:$DARCH" | sed -n 's/^ *Candidate: //p')
	log "kernel '$tok' -> linux-image-$REL ($DARCH) $KVER, Debian $SUITE${VARIANT:+, CPU variant $VARIANT (scenario directories end in $SUFFIX)}"
}

# download_deb PKG[:ARCH][=VERSION] -> path of the .deb in $DEBS
download_deb() {
	local spec=$1 pkg ver f arch
	pkg=${spec%%=*}
	if [ "$spec" != "$pkg" ]; then ver=${spec#*=}; else
		ver=$(apt_cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
	fi
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "package $pkg cannot be downloaded: apt knows no candidate version"
	arch=${pkg#*:}
	[ "$arch" != "$pkg" ] || arch='*'
	deb_file() { # apt-get download names a file with an epoch NAME_EPOCH%3aVERSION_ARCH.deb
		ls "$DEBS/${pkg%%:*}_${ver#*:}_"$arch.deb "$DEBS/${pkg%%:*}_${ver#*:}_all.deb" \
			"$DEBS/${pkg%%:*}_${ver%%:*}%3a${ver#*:}_"$arch.deb "$DEBS/${pkg%%:*}_${ver%%:*}%3a${ver#*:}_all.deb" 2>/dev/null | head -n1 || true
	}
	f=$(deb_file)
	if [ -z "$f" ]; then
		log "downloading $pkg $ver"
		mkdir -p "$DEBS"
		(cd "$DEBS" && apt_get download -o APT::Sandbox::User=root "$pkg=$ver" >&2) ||
			die "package $pkg ($ver) cannot be downloaded (apt-get download failed)"
		f=$(deb_file)
		[ -n "$f" ] || die "apt-get download of $pkg $ver left no .deb in $DEBS"
	fi
	echo "$f"
}

prepare_kernel() {
	KDIR=$CACHE_DIR/kernels/$REL
	mkdir -p "$KDIR"
	local hdr_pkgs p deb
	if [ ! -e "$KDIR/.extracted" ]; then
		# The headers' kbuild tools (fixdep, modpost) are host programs: take the
		# amd64 linux-kbuild of the same version, whatever the kernel's architecture.
		hdr_pkgs=$(apt_cache depends "linux-headers-$REL:$DARCH" | sed -n 's/^ *Depends: //p' | tr -d '<>' | sed 's/:.*//' | grep -E '^linux-(headers|kbuild)-' | sort -u || true)
		for p in "linux-image-$REL:$DARCH" "linux-headers-$REL:$DARCH" $hdr_pkgs; do
			case "$p" in
			linux-kbuild-*)
				# the same version when the archive still serves it (a newer point
				# release replaces the old one in the security archive), else the newest
				if deb_served "$p:amd64=$KVER"; then p="$p:amd64=$KVER"; else
					log "WARNING: $p:amd64 $KVER is not served; using $(apt_cache policy "$p:amd64" | sed -n 's/^ *Candidate: //p') for the kbuild programs"
					p="$p:amd64"
				fi ;;
			esac
			deb=$(download_deb "$p")
			log "extracting $(basename "$deb")"
			dpkg-deb -x "$deb" "$KDIR"
		done
		# trixie's packages install into /usr/lib/modules (merged /usr)
		[ -e "$KDIR/lib" ] || [ ! -d "$KDIR/usr/lib/modules" ] || ln -s usr/lib "$KDIR/lib"
		depmod -b "$KDIR" "$REL" || die "depmod for the extracted $REL modules failed"
		touch "$KDIR/.extracted"
	fi
	if [ ! -e "$KDIR/.extracted-dbg" ]; then
		deb=$(download_deb "linux-image-$REL-dbg:$DARCH")
		log "extracting vmlinux and the debug info of the guest's modules from $(basename "$deb") (large, ~1 min)"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$KDIR" --wildcards \
			"./usr/lib/debug/boot/vmlinux-$REL" \
			"./usr/lib/debug/lib/modules/$REL/kernel/drivers/virtio/*" \
			"./usr/lib/debug/lib/modules/$REL/kernel/drivers/block/virtio_blk.ko*" \
			"./usr/lib/debug/lib/modules/$REL/kernel/drivers/md/dm-mod.ko*" ||
			log "WARNING: not every module's debug file is in $(basename "$deb")"
		touch "$KDIR/.extracted-dbg"
	fi
	VMLINUZ=$KDIR/boot/vmlinuz-$REL
	VMLINUX=$KDIR/usr/lib/debug/boot/vmlinux-$REL
	HDIR=$KDIR/usr/src/linux-headers-$REL
	KCONFIG=$KDIR/boot/config-$REL
	[ -f "$VMLINUZ" ] || die "$VMLINUZ missing after extraction"
	[ -f "$VMLINUX" ] || die "$VMLINUX missing after extraction"
	# The headers' Makefile includes the -common tree by absolute /usr/src path:
	# point it at our extracted copy instead.
	sed -i "s|^include .*/\(linux-headers-[^/]*\)/Makefile\$|include $KDIR/usr/src/\1/Makefile|" "$HDIR/Makefile"
	grep -q "^include $KDIR/usr/src/" "$HDIR/Makefile" || die "cannot point $HDIR/Makefile at the extracted -common headers"
	# 31 excludes free pages, which makedumpfile 1.7.2 misidentifies on >= 6.12.
	# crash 8.0.2 predates Linux 6.4: on newer kernels it does not find the KASLR
	# offset by itself and aborts on the new struct module layout.
	case "$REL" in
	5.10.* | 6.1.*) DUMPLEVEL=31 CRASH_FLAGS="" ;;
	*) DUMPLEVEL=23 CRASH_FLAGS="--kaslr=auto --no_modules" ;;
	esac
	# crash 8.0.2 sees only the on-CPU tasks of 6.1 and fails on >= 6.4: Debian 13's
	# crash 8.0.6 (run from a sysroot) is a second reference there (ref/crash806-*).
	CRASH_TRIXIE=
	if [ "$DARCH" = amd64 ] && [ "${CRASH806:-1}" = 1 ] && [[ "$REL" != 5.10.* ]]; then
		sysroot crash trixie amd64 crash libncursesw6 libtinfo6 libsnappy1v5 libstdc++6 liblzo2-2 libzstd1 zlib1g liblzma5
		CRASH_TRIXIE=$SYSROOT
	fi
}

# kconfig NAME: the kernel's CONFIG_NAME value ("n" when unset).
kconfig() { sed -n "s/^CONFIG_$1=//p" "$KCONFIG" | tr -d '"' | grep . || echo n; }

# ---------------------------------------------------------------- sysroots
# Debian binaries of another suite or architecture are not installed: their .debs
# (and their library dependencies, lib* and zlib* packages only) are unpacked into
# $CACHE_DIR/sysroot/SUITE-ARCH. Guest programs are copied from there with the
# libraries they need; host-side ones run with the sysroot's loader (qemu-user for arm64).
# sysroot PURPOSE SUITE ARCH PKG... -> SYSROOT ($CACHE_DIR/sysroot/PURPOSE-SUITE-ARCH)
sysroot() {
	local suite=$2 arch=$3 p q d deps queue seen=" " want
	SYSROOT=$CACHE_DIR/sysroot/$1-$suite-$arch
	shift 3
	want=$(echo "$*" | tr ' ' '\n' | sort -u | tr '\n' ' ')
	[ "$(cat "$SYSROOT/.pkgs" 2>/dev/null)" = "$want" ] && return 0
	log "sysroot $(basename "$SYSROOT"): $want"
	rm -rf "$SYSROOT" && mkdir -p "$SYSROOT"
	queue=("$@")
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		case "$seen" in *" $p "*) continue ;; esac
		seen+="$p "
		q=$(apt_cache show "$p:$arch/$suite" 2>/dev/null | awk '/^Package:/{n++} n==1' || true)
		if [ -z "$q" ]; then
			log "sysroot $(basename "$SYSROOT"): no $p, skipped"
			continue
		fi
		deps=$(echo "$q" | sed -n 's/^\(Pre-\)\?Depends: //p' | tr ',|' '\n\n' | sed 's/([^)]*)//; s/:any//; s/ //g')
		for d in $deps; do
			case "$d" in lib* | zlib*) queue+=("$d") ;; esac
		done
		d=$(echo "$q" | sed -n 's/^Version: //p')
		echo "$p $d" >>"$SYSROOT/.versions"
		d=$(download_deb "$p:$arch=$d")
		dpkg-deb -x "$d" "$SYSROOT"
	done
	echo "$want" >"$SYSROOT/.pkgs"
}

# sysroot_libs SYSROOT ELF...: "GUESTPATH SYSROOTPATH" of the shared libraries the
# ELF files need (recursively), and of their dynamic loader.
sysroot_libs() {
	local sr=$1
	shift
	"$PY" - "$sr" "$@" <<'EOF'
import os, subprocess, sys
sr, files = sys.argv[1], sys.argv[2:]
dirs = ["lib", "usr/lib", "lib64"]
dirs = [os.path.join(d, t) for d in dirs for t in ("aarch64-linux-gnu", "x86_64-linux-gnu", "")]
def readelf(path):
    out = subprocess.run(["readelf", "-dl", path], capture_output=True, text=True).stdout
    needed, interp = [], None
    for line in out.splitlines():
        if "(NEEDED)" in line:
            needed.append(line.split("[", 1)[1].split("]", 1)[0])
        if "Requesting program interpreter:" in line:
            interp = line.split(":", 1)[1].strip(" ]")
    return needed, interp
def real(rel, depth=0):
    """rel (relative to sr) with its symlinks resolved inside sr: absolute links
    (bullseye's /lib64/ld-linux-x86-64.so.2 -> /lib/...) point into the sysroot."""
    parts, done = rel.strip("/").split("/"), ""
    for i, part in enumerate(parts):
        cur = os.path.join(done, part)
        full = os.path.join(sr, cur)
        if os.path.islink(full):
            if depth > 40:
                raise SystemExit("symlink loop at " + full)
            t = os.readlink(full)
            t = t.lstrip("/") if t.startswith("/") else os.path.normpath(os.path.join(done, t))
            return real("/".join([t] + parts[i + 1:]), depth + 1)
        done = cur
    return done
def exists(rel):
    return os.path.exists(os.path.join(sr, real(rel)))
seen, out, todo = set(), [], list(files)
while todo:
    f = todo.pop()
    needed, interp = readelf(f)
    if interp and interp not in seen:
        seen.add(interp)
        # merged /usr (trixie): /lib is /usr/lib, and the .debs hold only the latter
        src = next((c for c in (interp.lstrip("/"), "usr" + interp) if exists(c)), None)
        if src is None:
            raise SystemExit("%s: interpreter %s not found in %s" % (f, interp, sr))
        out.append(interp.lstrip("/") + " " + real(src))
    for n in needed:
        if n in seen:
            continue
        seen.add(n)
        for d in dirs:
            rel = os.path.join(d, n)
            if exists(rel):
                out.append(rel + " " + real(rel))
                todo.append(os.path.join(sr, real(rel)))
                break
        else:
            raise SystemExit("%s: library %s not found in %s" % (f, n, sr))
print("\n".join(out))
EOF
}

# sysroot_loader SYSROOT: the x86_64 dynamic loader of a sysroot (/lib64 before merged /usr)
sysroot_loader() {
	local l
	for l in lib64 usr/lib64 lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
		[ -e "$1/$l/ld-linux-x86-64.so.2" ] && { echo "$1/$l/ld-linux-x86-64.so.2"; return; }
	done
	die "no ld-linux-x86-64.so.2 in $1"
}

# run_in_sysroot SYSROOT PROGRAM ARGS...: a program of the sysroot (another suite or
# architecture) on this host.
run_in_sysroot() {
	local ARGV
	sysroot_argv "$1" "$2"
	shift 2
	"${ARGV[@]}" "$@"
}

# sysroot_argv SYSROOT PROGRAM: ARGV=(the command run_in_sysroot runs), for callers that
# exec it (timeout cannot run a shell function).
sysroot_argv() {
	local sr=$1 prog=$2 arch
	arch=$(basename "$sr")
	arch=${arch##*-}
	if [ -n "${QEMU_USER[$arch]}" ]; then
		ARGV=(env QEMU_LD_PREFIX="$sr" "${QEMU_USER[$arch]}" -E LD_LIBRARY_PATH=/lib/${GNU_TYPE[$arch]}:/usr/lib/${GNU_TYPE[$arch]}
			"$sr$prog")
	else
		ARGV=("$(sysroot_loader "$sr")" --library-path "$sr/lib/${GNU_TYPE[$arch]}:$sr/usr/lib/${GNU_TYPE[$arch]}" "$sr$prog")
	fi
}

# The makedumpfile of the dump's architecture: MDF=(command...) and its version.
setup_makedumpfile() {
	if [ "$DARCH" = amd64 ]; then
		MDF=(makedumpfile)
	else
		sysroot tools "$MDF_SUITE" "$DARCH" makedumpfile
		local sr=$SYSROOT bin
		bin=$(cd "$sr" && ls usr/bin/makedumpfile usr/sbin/makedumpfile 2>/dev/null | head -n1 || true)
		[ -n "$bin" ] || die "no makedumpfile in the $MDF_SUITE-$DARCH sysroot"
		MDF=(run_in_sysroot "$sr" "/$bin")
	fi
	MDF_VERSION=$("${MDF[@]}" -v 2>&1 | grep -m1 -o 'makedumpfile: version [0-9.]*' | sed 's/.*version //')
	[ -n "$MDF_VERSION" ] || die "makedumpfile for $DARCH does not run: $("${MDF[@]}" -v 2>&1 | head -n3)"
	MDF_DESC="Debian $MDF_SUITE makedumpfile $MDF_VERSION ($DARCH${QEMU_USER[$DARCH]:+, under ${QEMU_USER[$DARCH]}})"
	local var=${UPSTREAM_MDF[$DARCH]}
	MDF_UP=${!var}
	MDF_UP_VERSION=
	if [ -n "$MDF_UP" ]; then
		MDF_UP_VERSION=$("$MDF_UP" -v 2>&1 | grep -m1 -o 'makedumpfile: version [0-9.+]*' | sed 's/.*version //')
		[ -n "$MDF_UP_VERSION" ] || die "$var=$MDF_UP does not run"
	fi
}

# ---------------------------------------------------------------- guest build
# build_module: crashmod.ko against the extracted headers (cross-compiled for arm64).
build_module() {
	BUILD=$CACHE_DIR/build/$REL
	local src=$HERE/crashmod mdir=$BUILD/crashmod sum cc want
	sum=$(cat "$src/crashmod.c" "$src/Kbuild" | md5sum | cut -d' ' -f1)
	if [ -f "$mdir/crashmod.ko" ] && [ "$(cat "$mdir/.srcsum" 2>/dev/null)" = "$sum" ]; then
		return
	fi
	log "building crashmod.ko against linux-headers-$REL"
	rm -rf "$mdir" && mkdir -p "$mdir"
	cp "$src/crashmod.c" "$src/Kbuild" "$mdir/"
	# The compiler the kernel was built with (.kernelvariables: gcc-10 for 5.10,
	# gcc-12 for 6.1, gcc-14 for trixie), or bookworm's gcc-12 when it is not here.
	want=$(sed -n 's/^CC = .*\$(CROSS_COMPILE)\(gcc[-0-9]*\).*/\1/p' "$HDIR/.kernelvariables" 2>/dev/null | head -n1)
	cc=${CROSS_COMPILE[$DARCH]}${want:-gcc}
	if ! command -v "$cc" >/dev/null; then
		log "$cc (the kernel's compiler) is not in Debian 12; building crashmod with ${CROSS_COMPILE[$DARCH]}gcc-12"
		cc=${CROSS_COMPILE[$DARCH]}gcc-12
	fi
	kbuild_host_tools
	# gcc-12 lacks gcc-14's -fmin-function-alignment, which trixie's config selects:
	# clearing CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT makes kbuild use -falign-functions.
	# That does not align cold functions, and arm64's ftrace (CALL_OPS) refuses the
	# module's misaligned patch sites (WARNING "Misaligned patch-site", insmod fails):
	# so such a crashmod is built without ftrace patch sites (CC_FLAGS_FTRACE empty).
	local older=()
	[ "$cc" = "${CROSS_COMPILE[$DARCH]}${want:-gcc}" ] || older=(CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT= CC_FLAGS_FTRACE=)
	old_pahole && older+=(CONFIG_DEBUG_INFO_BTF_MODULES=)
	echo "make -C linux-headers-$REL M=crashmod ARCH=${KBUILD_ARCH[$DARCH]} CROSS_COMPILE=${CROSS_COMPILE[$DARCH]} CC=$cc ${older[*]} modules" >"$mdir/build.log"
	make -C "$HDIR" M="$mdir" ARCH="${KBUILD_ARCH[$DARCH]}" CROSS_COMPILE="${CROSS_COMPILE[$DARCH]}" CC="$cc" \
		"${older[@]}" modules >>"$mdir/build.log" 2>&1 ||
		{ tail -n 30 "$mdir/build.log" >&2; die "building crashmod.ko for $REL failed (log: $mdir/build.log)"; }
	file "$mdir/crashmod.ko" >>"$mdir/build.log"
	echo "$sum" >"$mdir/.srcsum"
}

# old_pahole: Debian 12's pahole is older than the one the kernel was built with
# (trixie: 1.29, whose --btf_features 1.24 lacks): then crashmod.ko gets no BTF
# (it keeps its DWARF), as kbuild does without pahole.
old_pahole() {
	local want have
	want=$(kconfig PAHOLE_VERSION)
	have=$(pahole --version 2>/dev/null | tr -dc 0-9)
	[ "$want" != n ] && [ -n "$have" ] && [ "$have" -lt "$want" ]
}

# kbuild_host_tools: trixie's linux-kbuild programs need glibc 2.38 (Debian 12 has
# 2.36). Those that do not run here are wrapped to run with trixie's loader and libc.
kbuild_host_tools() {
	local kb f real
	# scripts -> ../../lib/linux-kbuild-X/scripts: relative, so inside $KDIR
	kb=$(dirname "$(readlink -f "$HDIR/scripts")")
	[ -d "$kb" ] || die "no linux-kbuild tree for $HDIR/scripts"
	[ -e "$kb/.host-checked" ] && return 0
	for f in $(find "$kb" -type f -perm -u+x ! -name '*.trixie'); do
		# (no "| grep -q" here: with pipefail, grep's early exit fails the pipeline)
		[[ "$(file -b "$f")" == ELF*x86-64* ]] || continue
		[[ "$(objdump -T "$f" 2>/dev/null)" =~ GLIBC_2\.(3[7-9]|[4-9][0-9]) ]] || continue
		real=$f.trixie
		[ -e "$real" ] || mv "$f" "$real"
		sysroot kbuild trixie amd64 libc6 libelf1t64 zlib1g libzstd1 libssl3t64
		log "kbuild tool $(basename "$f") needs a newer glibc: runs with the trixie-amd64 sysroot's loader"
		cat >"$f" <<-EOF
			#!/bin/sh
			exec "$(sysroot_loader "$SYSROOT")" --library-path "$SYSROOT/lib/x86_64-linux-gnu:$SYSROOT/usr/lib/x86_64-linux-gnu" "$real" "\$@"
		EOF
		chmod +x "$f"
	done
	touch "$kb/.host-checked"
}

build_hog() {
	HOG=$CACHE_DIR/build/hog-$DARCH
	if [ ! -x "$HOG" ] || [ "$HERE/guest/hog.c" -nt "$HOG" ]; then
		mkdir -p "$CACHE_DIR/build"
		"${CROSS_COMPILE[$DARCH]}gcc" -static -O2 -o "$HOG" "$HERE/guest/hog.c" || die "building the static memory hog for $DARCH failed"
	fi
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

# add_modules ROOT SET NAME...: unpack the modules (with dependencies) into
# ROOT/modules/SET/ and list them in load order in ROOT/modules/SET/order.
add_modules() {
	local root=$1 set=$2 mods m base
	shift 2
	mkdir -p "$root/modules/$set"
	: >"$root/modules/$set/order"
	mods=$(modules_in_order "$@") || die "cannot resolve the dependencies of $* for $REL"
	for m in $mods; do
		base=$(basename "$m")
		[ "$set" = base ] || ! grep -qx "${base%.ko*}.ko" "$root/modules/base/order" || continue
		case "$base" in
		*.ko.xz) xz -dc "$KDIR/lib/modules/$REL/$m" >"$root/modules/$set/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$KDIR/lib/modules/$REL/$m" >"$root/modules/$set/${base%.zst}" ;;
		*.ko.gz) gzip -dc "$KDIR/lib/modules/$REL/$m" >"$root/modules/$set/${base%.gz}" ;;
		*) cp "$KDIR/lib/modules/$REL/$m" "$root/modules/$set/$base" ;;
		esac
		echo "${base%.ko*}.ko" >>"$root/modules/$set/order"
	done
}

GUEST_PKGS="busybox-static kexec-tools dmsetup"
build_initramfs() {
	local ir=$BUILD/initramfs root inputs sr f
	sysroot guest "$SUITE" "$DARCH" $GUEST_PKGS
	sr=$SYSROOT
	inputs=$(cat "$HERE/guest/init.sh" "$BUILD/crashmod/crashmod.ko" "$HOG" "$VMLINUZ" "${BASH_SOURCE[0]}" \
		"$KDIR/lib/modules/$REL/modules.dep" "$sr/.pkgs" | md5sum | cut -d' ' -f1)
	INITRD=$ir/initrd.img
	if [ -f "$INITRD" ] && [ "$(cat "$ir/.inputs" 2>/dev/null)" = "$inputs" ]; then
		return
	fi
	log "building the initramfs for $REL (Debian $SUITE $DARCH userland)"
	rm -rf "$ir" && mkdir -p "$ir"
	root=$ir/root
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,boot}
	# merged /usr (trixie) has /usr/bin/busybox, /usr/sbin/kexec
	f=/bin/busybox
	[ -e "$sr$f" ] || f=/usr$f
	cp "$sr$f" "$root/bin/busybox"
	install -m 0755 "$HERE/guest/init.sh" "$root/init"
	local dst src
	for f in /sbin/kexec /sbin/dmsetup; do
		[ -e "$sr$f" ] || f=/usr$f
		install -D -m 0755 "$sr$f" "$root/sbin/$(basename "$f")"
		sysroot_libs "$sr" "$sr$f" >"$ir/libs"
		while read -r dst src; do
			[ -e "$root/$dst" ] || install -D -m 0755 "$sr/$src" "$root/$dst"
		done <"$ir/libs"
	done
	install -m 0755 "$HOG" "$root/bin/hog"
	install -m 0644 "$BUILD/crashmod/crashmod.ko" "$root/crashmod.ko"
	add_modules "$root" base virtio_pci virtio_blk
	# qemu_fw_cfg hands the guest's VMCOREINFO address to QEMU (-device vmcoreinfo);
	# loaded only for the dump-guest-memory run. dm-mod only for hung-io.
	add_modules "$root" qemu qemu_fw_cfg
	add_modules "$root" dm dm_mod
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
	module-null-deref)
		case "$DARCH" in
		amd64) echo 'BUG: kernel NULL pointer dereference, address: 0000000000000008' ;;
		arm64) echo 'Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008' ;;
		esac ;;
	bug) echo 'kernel BUG at .*crashmod\.c' ;;
	panic) echo 'Kernel panic - not syncing: crashmod: deliberate panic from module' ;;
	warn) echo 'Kernel panic - not syncing: .*panic_on_warn' ;;
	hung-task | mutex-deadlock | hung-io) echo 'Kernel panic - not syncing: hung_task: blocked tasks' ;;
	soft-lockup | soft-lockup-runq) echo 'Kernel panic - not syncing: softlockup: hung tasks' ;;
	oom) echo 'Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled' ;;
	oom-cgroup) echo 'Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled' ;;
	*) die "no panic pattern for scenario $1" ;;
	esac
}

scenario_text() {
	case "$1" in
	sysrq-c) echo '`echo c > /proc/sysrq-trigger` (panic("sysrq triggered crash"))' ;;
	module-null-deref) echo 'crashmod writes through a NULL pointer in crashmod_null_deref() -> Oops -> panic_on_oops' ;;
	bug) echo 'crashmod calls BUG() -> Oops (invalid opcode / BRK) -> panic_on_oops' ;;
	panic) echo 'crashmod calls panic("crashmod: deliberate panic from module")' ;;
	warn) echo 'kernel.panic_on_warn=1, crashmod calls WARN()' ;;
	hung-task) echo 'kernel.hung_task_panic=1, hung_task_timeout_secs=5; crashmod locks its mutex twice (D state)' ;;
	soft-lockup) echo 'kernel.softlockup_panic=1, watchdog_thresh=3; crashmod spins with preemption disabled' ;;
	oom) echo 'vm.panic_on_oom=1, overcommit_memory=1; a static memory hog touches memory until OOM' ;;
	mutex-deadlock) echo 'kernel.hung_task_panic=1, hung_task_timeout_secs=5; two crashmod kernel threads take crashmod_lock_a and crashmod_lock_b in opposite order (ABBA deadlock, both in D state)' ;;
	oom-cgroup) echo 'vm.panic_on_oom=2; the memory hog runs in the cgroup v2 /sys/fs/cgroup/corpus-hog with memory.max=32M (memcg OOM -> compulsory panic)' ;;
	hung-io) echo 'kernel.hung_task_panic=1, hung_task_timeout_secs=5; a device-mapper linear device over /dev/vda is suspended with `dmsetup suspend`, then `dd ... conv=fsync` writes to it and waits for the write-back (D state)' ;;
	soft-lockup-runq) echo 'kernel.softlockup_panic=1, watchdog_thresh=3; three busy shell loops are pinned to CPU 1, then crashmod spins with preemption disabled on CPU 1 (the loops stay queued on its runqueue)' ;;
	esac
}

# The files that make a dump complete (re-runs skip complete dumps).
kdump_outputs() {
	local f="ORIGIN.md console.log"
	if [ "$CONVERTED" = 1 ]; then
		f="$f vmcore.elf-d$DUMPLEVEL vmcore.kdump-zlib vmcore.kdump-lzo vmcore.flat vmcore.split-1 vmcore.split-2"
		[ "$DUMPLEVEL" = 31 ] || f="$f vmcore.kdump-zlib-d31-misfiltered"
	else
		f="$f vmcore.elf"
	fi
	echo "$f"
}
ref_outputs() {
	local f="ref/dmesg.makedumpfile.txt ref/vmcoreinfo.txt ref/drgn-dmesg.txt ref/drgn-ps.txt
	  ref/drgn-modules.txt ref/drgn-bt.txt ref/oops-calltrace.txt ref/tools.txt"
	[ "${CRASH_REFS[$DARCH]}" = 1 ] && f="$f $CRASH_FILES"
	[ -n "$CRASH_TRIXIE" ] && f="$f ${CRASH_FILES//ref\/crash-/ref/crash806-}"
	[ -n "$DRGN_PYTHONPATH" ] && f="$f ref/drgn-frames.json ref/drgn-sys.json ref/drgn-meminfo.json
	  ref/drgn-slabs.json ref/drgn-runq.json ref/drgn-mounts.json ref/drgn-blocked.json"
	[ -n "$MDF_UP" ] && f="$f ref/dmesg.makedumpfile-upstream.txt"
	echo "$f"
}
# crash commands of the reference session, one "command|file" a line.
CRASH_CMDS='sys|sys
log|log
bt|bt
bt -a|bt-a
mod|mod
ps|ps
foreach UN bt|foreach-un-bt
kmem -i|kmem-i
kmem -s|kmem-s
runq|runq
mount|mount
dev -d|dev-d'
CRASH_FILES=$(echo "$CRASH_CMDS" | sed 's/.*|\(.*\)/ref\/crash-\1.txt/' | tr '\n' ' ')
# crash outputs that may be legitimately empty
CRASH_MAY_BE_EMPTY="ref/crash-foreach-un-bt.txt ref/crash-dev-d.txt"
is_complete() {
	local dir=$1 f
	[ -e "$dir/.complete" ] || return 1
	for f in $2; do
		[ -s "$dir/$f" ] && continue
		[[ " $CRASH_MAY_BE_EMPTY " == *" ${f/ref\/crash806-/ref/crash-} "* ]] && [ -e "$dir/$f" ] && continue
		return 1
	done
}

# refresh_refs DIR FILES: a dump made before a reference tool was added has every
# dump file but lacks that tool's references: run just those tools (crash 8.0.6,
# drgn, the upstream makedumpfile) instead of making the dump again.
refresh_refs() {
	local dir=$1 files=$2 f missing=() dump=vmcore.kdump-zlib src
	[ -e "$dir/.complete" ] || return 1
	for f in $files; do
		[ -s "$dir/$f" ] || [ -e "$dir/$f" -a "${f#ref/crash}" != "$f" ] || missing+=("$f")
	done
	[ ${#missing[@]} -gt 0 ] || return 1
	for f in "${missing[@]}"; do
		case "$f" in ref/crash806-* | ref/drgn-* | ref/dmesg.makedumpfile-upstream.txt) ;; *) return 1 ;; esac
	done
	[ -e "$dir/$dump" ] || dump=vmcore.elf
	[ -e "$dir/$dump" ] || return 1
	TOOLS_LOG=$dir/ref/tools.txt
	log "$REL/$(basename "$dir"): refreshing references: ${missing[*]}"
	(
		cd "$dir"
		echo "# added later by make.sh (refresh):" >>"$TOOLS_LOG"
		if [[ " ${missing[*]} " == *" ref/crash806-"* ]]; then
			sysroot_argv "$CRASH_TRIXIE" /usr/bin/crash
			crash_session crash806 "$dir" "$dump" "" "${ARGV[@]}"
		fi
		if [[ " ${missing[*]} " == *" ref/dmesg.makedumpfile-upstream.txt "* ]]; then
			src=vmcore.elf
			[ -e "$src" ] || src=$dump
			local t0
			t0=$(now)
			: >>ref/makedumpfile.log
			mdf_dmesg ref/dmesg.makedumpfile-upstream.txt "$src" "$MDF_UP" || true
			tool_time "makedumpfile $MDF_UP_VERSION (upstream) --dump-dmesg $src" "$t0"
		fi
		if [[ " ${missing[*]} " == *" ref/drgn-"* ]]; then
			local t0
			t0=$(now)
			PYTHONPATH=$DRGN_PYTHONPATH "$PY" "$HERE/drgn_refs.py" "$dump" ref "$VMLINUX" "$BUILD/crashmod/crashmod.ko" \
				$(find "$KDIR/usr/lib/debug/lib/modules" -name '*.ko*' 2>/dev/null) >ref/drgn.log 2>&1 || true
			sed -i -e "s|$KDIR/||g" -e "s|$BUILD/crashmod/||g" -e "s|$BUILD/||g" -e "s|$HERE/|testdata/corpus/|g" ref/drgn*
			tool_time "drgn $(drgn_version) on $dump" "$t0"
		fi
	)
	is_complete "$dir" "$files"
}

TOOLS_LOG=
tool_time() { # tool_time LABEL START
	printf '%-58s %8ss\n' "$1" "$(since "$2")" >>"$TOOLS_LOG"
}

# boot_guest SCENARIO DIR MEM CRASHKERNEL KDUMP(1|0): run QEMU; sets BOOT_SECS.
boot_guest() {
	local scen=$1 dir=$2 mem=$3 ck=$4 kdump=$5 work append extra=() t0 qpid rc=0 con=${CONSOLE[$DARCH]}
	work=$CACHE_DIR/work/$REL/$(basename "$(dirname "$dir")")-$scen
	rm -rf "$work" && mkdir -p "$work"
	DISK=$work/disk.raw
	truncate -s "$(($(numfmt --from=iec "$mem") + 64 * 1024 * 1024))" "$DISK"
	if [ "$kdump" = 1 ]; then
		append="console=$con crashkernel=$ck panic=1 corpus_scenario=$scen"
	else
		append="console=$con panic=0 corpus_scenario=${scen#qemu-} corpus_kdump=0"
		extra=(-device vmcoreinfo -monitor unix:"$work/mon.sock",server=on,wait=off)
	fi
	# shellcheck disable=SC2207
	QEMU_CMD=("${QEMU_SYSTEM[$DARCH]}" $(qemu_cpu_args) -machine "${QEMU_MACHINE[$DARCH]}" -smp 2 -m "$mem"
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$append"
		-display none -nodefaults -no-reboot -serial file:"$dir/console.log"
		-drive file="$DISK",format=raw,if=none,id=disk0 -device "${QEMU_DISK[$DARCH]},drive=disk0" "${extra[@]}")
	log "$REL/$scen: booting ($(guest_accel), $mem RAM${ck:+, crashkernel=$ck})"
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

# mdf_dmesg OUT ELF MDF...: --dump-dmesg into OUT, or "ERROR: ..." with the tool's messages.
mdf_dmesg() {
	local out=$1 elf=$2 logf
	shift 2
	logf=$(mktemp)
	if ! "$@" --dump-dmesg "$elf" "$out" >"$logf" 2>&1 || [ ! -s "$out" ]; then
		{
			echo "ERROR: makedumpfile $("$@" -v 2>&1 | grep -m1 -o 'version [0-9.+]*' | sed 's/version //') --dump-dmesg $elf failed:"
			tr '\r' '\n' <"$logf" | grep -v '^[[:space:]]*$'
		} >"$out"
		cat "$logf" >>ref/makedumpfile.log
		rm -f "$logf"
		return 1
	fi
	cat "$logf" >>ref/makedumpfile.log
	rm -f "$logf"
}

# crash_session PREFIX DIR DUMP FLAGS CRASH...: one crash session running CRASH_CMDS,
# each command's output in ref/PREFIX-<name>.txt, crash's own messages in
# ref/PREFIX-session.log. Run in DIR.
crash_session() {
	local prefix=$1 dir=$2 dump=$3 flags=$4 t0 f version
	shift 4
	t0=$(now)
	version=$("$@" --version 2>/dev/null | grep -m1 -o '[0-9][0-9.]*' || true)
	rm -f ref/"$prefix"-*.txt
	{
		echo "$CRASH_CMDS" | sed "s/\(.*\)|\(.*\)/\1 > ref\/$prefix-\2.txt/"
		echo exit
	} >ref/.crash-cmds
	# A crash that cannot read a kernel may loop instead of failing (Debian
	# 12's 8.0.2 on a 6.12 OOM dump spun for 9 minutes): bounded, its
	# missing outputs are marked below like any other failure.
	# shellcheck disable=SC2086
	local rc=0
	timeout -k 10 "${CRASH_TIMEOUT:-300}" "$@" -s $flags "$VMLINUX" "$dump" <ref/.crash-cmds >ref/"$prefix"-session.log 2>&1 || rc=$?
	# internal/corpus reads this line: such a session's tables are no reference
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "crash session stopped after ${CRASH_TIMEOUT:-300} s (CRASH_TIMEOUT)" >>ref/"$prefix"-session.log
	fi
	tool_time "crash $version -s ${flags:+$flags }vmlinux $dump ($(grep -c . ref/.crash-cmds) commands)" "$t0"
	rm -f ref/.crash-cmds
	for f in $(echo "$CRASH_FILES" | sed "s|ref/crash-|ref/$prefix-|g"); do
		[ -e "$f" ] || { echo "ERROR: crash $version produced no output; see $prefix-session.log" >"$f"; }
		if [ ! -s "$f" ] && [[ " $CRASH_MAY_BE_EMPTY " != *" ${f/ref\/$prefix-/ref/crash-} "* ]]; then
			echo "ERROR: crash $version printed nothing for this command; see $prefix-session.log" >"$f"
		fi
		sed -i -e "s|$(dirname "$VMLINUX")/||g" -e "s|$dir/||g" -e "s|$CACHE_DIR/[^ ]*/||g" "$f"
	done
	sed -i -e "s|$(dirname "$VMLINUX")/||g" -e "s|$dir/||g" -e "s|$CACHE_DIR/[^ ]*/||g" ref/"$prefix"-session.log
}

# refs DIR DUMPFILE ELF: reference outputs from crash, drgn, makedumpfile.
make_refs() {
	local dir=$1 dump=$2 elf=$3 t0 cmd f
	mkdir -p "$dir/ref"
	(
		cd "$dir"
		t0=$(now)
		if ! mdf_dmesg ref/dmesg.makedumpfile.txt "$elf" "${MDF[@]}"; then
			[ "$elf" = vmcore.elf ] && [ "$CONVERTED" = 1 ] && [ -z "$MDF_UP" ] && die "makedumpfile --dump-dmesg failed in $dir (ref/dmesg.makedumpfile.txt)"
			log "WARNING: makedumpfile $MDF_VERSION --dump-dmesg $elf failed in $dir (recorded in ref/dmesg.makedumpfile.txt)"
		fi
		tool_time "makedumpfile $MDF_VERSION --dump-dmesg $elf" "$t0"
		if [ -n "$MDF_UP" ]; then
			t0=$(now)
			mdf_dmesg ref/dmesg.makedumpfile-upstream.txt "$elf" "$MDF_UP" ||
				log "WARNING: upstream makedumpfile --dump-dmesg $elf failed in $dir"
			tool_time "makedumpfile $MDF_UP_VERSION (upstream) --dump-dmesg $elf" "$t0"
		fi
		"$PY" "$HERE/corpus.py" vmcoreinfo "$elf" ref/vmcoreinfo.txt ||
			die "no VMCOREINFO note in $dir/$elf"
		if grep -q '^ERROR' ref/dmesg.makedumpfile.txt && [ -s ref/dmesg.makedumpfile-upstream.txt ] &&
			! grep -q '^ERROR' ref/dmesg.makedumpfile-upstream.txt; then
			"$PY" "$HERE/corpus.py" calltrace ref/dmesg.makedumpfile-upstream.txt ref/oops-calltrace.txt
		else
			"$PY" "$HERE/corpus.py" calltrace ref/dmesg.makedumpfile.txt ref/oops-calltrace.txt
		fi
		if [ "${CRASH_REFS[$DARCH]}" = 1 ]; then
			crash_session crash "$dir" "$dump" "$CRASH_FLAGS" crash
			if [ -n "$CRASH_TRIXIE" ]; then
				sysroot_argv "$CRASH_TRIXIE" /usr/bin/crash
				crash_session crash806 "$dir" "$dump" "" "${ARGV[@]}"
			fi
		fi
		t0=$(now)
		PYTHONPATH=$DRGN_PYTHONPATH "$PY" "$HERE/drgn_refs.py" "$dump" ref "$VMLINUX" "$BUILD/crashmod/crashmod.ko" \
			$(find "$KDIR/usr/lib/debug/lib/modules" -name '*.ko*' 2>/dev/null) >ref/drgn.log 2>&1 ||
			echo "drgn_refs.py exited with $?" >>ref/drgn.log
		sed -i -e "s|$KDIR/||g" -e "s|$BUILD/crashmod/||g" -e "s|$BUILD/||g" -e "s|$HERE/|testdata/corpus/|g" ref/drgn*
		tool_time "drgn $(drgn_version) on $dump" "$t0"
	)
}

drgn_version() { PYTHONPATH=$DRGN_PYTHONPATH "$PY" -c 'import drgn; print(drgn.__version__)' 2>/dev/null || echo none; }

# check_panic DIR SCENARIO: the dump's own log (crash's log on x86_64, else
# makedumpfile's or drgn's) must show the scenario's panic.
check_panic() {
	local dir=$1 scen=$2 pat f
	pat=$(panic_pattern "$scen")
	if [ "${CRASH_REFS[$DARCH]}" = 1 ]; then
		if [ -n "$CRASH_TRIXIE" ] && grep -qE "$pat" "$dir/ref/crash806-log.txt"; then
			log "$REL/$scen: crash 8.0.6 log shows: $(grep -m1 -oE "$pat.*" "$dir/ref/crash806-log.txt")"
		fi
		if grep -qE "$pat" "$dir/ref/crash-log.txt"; then
			log "$REL/$scen: crash log shows: $(grep -m1 -oE "$pat.*" "$dir/ref/crash-log.txt")"
			return
		fi
		# crash 8.0.2 does not support kernels >= 6.4 (CRASH_FLAGS set): there a
		# failing 'log' is recorded, and makedumpfile's dmesg must show the panic.
		[ -n "$CRASH_FLAGS" ] || die "$REL/$scen: crash 'log' of $dir does not show the panic /$pat/ (see ref/crash-log.txt, ref/crash-session.log)"
		log "WARNING: $REL/$scen: crash 'log' fails on this kernel (see ref/crash-session.log)"
		echo "crash $(crash --version 2>/dev/null | grep -m1 -o '[0-9][0-9.]*') 'log' failed on this dump (unsupported kernel); panic checked in the makedumpfile dmesg instead" >>"$dir/.warnings"
	fi
	for f in dmesg.makedumpfile.txt dmesg.makedumpfile-upstream.txt drgn-dmesg.txt; do
		if [ -f "$dir/ref/$f" ] && grep -qE "$pat" "$dir/ref/$f"; then
			log "$REL/$scen: ref/$f shows: $(grep -m1 -oE "$pat.*" "$dir/ref/$f")"
			return
		fi
	done
	die "$REL/$scen: no reference log of $dir shows the panic /$pat/"
}

write_origin() {
	local dir=$1 scen=$2 mem=$3 ck=$4 kind=$5
	{
		echo "# $REL / $scen${VARIANT:+ (CPU variant $VARIANT: \`${CPU_VARIANT[$VARIANT]#,}\`)}"
		echo
		echo "* Kernel: Debian $SUITE \`linux-image-$REL\` $KVER ($DARCH; debug info: \`linux-image-$REL-dbg\` $KVER, \`usr/lib/debug/boot/vmlinux-$REL\`)"
		echo "* Kernel build: $(grep -m1 -o 'Linux version .*' "$dir/console.log" | tr -d '\r')"
		echo "* Kernel config: $(kconfig_summary)"
		echo "* Scenario: \`$scen\` — $(scenario_text "${scen#qemu-}")"
		echo "* Expected log line: \`$(panic_pattern "$scen")\`"
		echo "* Guest: QEMU $(${QEMU_SYSTEM[$DARCH]} --version | head -n1 | sed 's/^QEMU emulator version //'), \`${QEMU_SYSTEM[$DARCH]} $(qemu_cpu_args) -machine ${QEMU_MACHINE[$DARCH]}\`, 2 vCPUs, $mem RAM${ck:+, crashkernel=$ck}"
		echo "* Guest userland: Debian $SUITE $DARCH busybox-static, kexec-tools $(pkg_version kexec-tools), dmsetup"
		echo "* Capture: $kind"
		echo "* Conversions and \`ref/dmesg.makedumpfile.txt\`: $MDF_DESC${CONVERTED_BY:+; $CONVERTED_BY}"
		echo "* crashmod.ko: built from testdata/corpus/crashmod/ against \`linux-headers-$REL\` $KVER ($(sed -n 's/.*crashmod.ko: //p' "$BUILD/crashmod/build.log" | cut -d, -f1-2); unsigned: taints OE): \`$(head -n1 "$BUILD/crashmod/build.log")\`"
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

kconfig_summary() {
	local s="CONFIG_DEBUG_INFO_BTF=$(kconfig DEBUG_INFO_BTF), CONFIG_KALLSYMS_ALL=$(kconfig KALLSYMS_ALL), CONFIG_PGTABLE_LEVELS=$(kconfig PGTABLE_LEVELS)"
	[ "$DARCH" = arm64 ] && s="$s, CONFIG_ARM64_VA_BITS=$(kconfig ARM64_VA_BITS), pages: $(for p in 4K 16K 64K; do [ "$(kconfig ARM64_${p}_PAGES)" = y ] && echo "$p"; done), CONFIG_ARM64_PTR_AUTH_KERNEL=$(kconfig ARM64_PTR_AUTH_KERNEL), CONFIG_ARM64_LPA2=$(kconfig ARM64_LPA2)"
	echo "$s"
}
pkg_version() { sed -n "s/^$1 //p" "$CACHE_DIR/sysroot/guest-$SUITE-$DARCH/.versions" 2>/dev/null | head -n1; }

# clean_mdf_log FILE: drop makedumpfile's \r progress meters, keep its messages.
clean_mdf_log() {
	[ -e "$1" ] || return 0
	tr '\r' '\n' <"$1" | grep -vE '^(Checking for memory holes|Excluding unnecessary pages|Excluding free pages|Copying data|Copying [a-z ]+) *: \[' |
		grep -v '^[[:space:]]*$' >"$1.tmp" || true
	mv "$1.tmp" "$1"
}

run_makedumpfile() { # run_makedumpfile DIR LABEL ARGS...
	local dir=$1 label=$2 t0
	shift 2
	t0=$(now)
	echo "makedumpfile $*" >>"$dir/.cmds"
	if ! (cd "$dir" && "${CONV[@]}" "$@") >>"$dir/ref/makedumpfile.log" 2>&1; then
		die "$REL/$(basename "$dir"): makedumpfile $* failed (see $dir/ref/makedumpfile.log)"
	fi
	tool_time "makedumpfile $label" "$t0"
}

# convert_first DIR: the kdump-zlib conversion, by Debian's makedumpfile of the dump's
# architecture (CONV). Debian's refuses some dumps (arm64 with 52-bit VAs): then the
# upstream one converts, if given, or the raw vmcore.elf stays the only dump (CONVERTED=0).
convert_first() {
	local dir=$1 out t0
	CONV=("${MDF[@]}") CONVERTED=1 CONVERTED_BY=
	t0=$(now)
	echo "makedumpfile -c -d $DUMPLEVEL vmcore.elf vmcore.kdump-zlib" >>"$dir/.cmds"
	if (cd "$dir" && "${CONV[@]}" -c -d $DUMPLEVEL vmcore.elf vmcore.kdump-zlib) >"$dir/.convert.log" 2>&1; then
		cat "$dir/.convert.log" >>"$dir/ref/makedumpfile.log"
		rm -f "$dir/.convert.log"
		tool_time "makedumpfile -c -d $DUMPLEVEL (kdump-zlib)" "$t0"
		return
	fi
	rm -f "$dir/vmcore.kdump-zlib"
	out=$(tr '\r' '\n' <"$dir/.convert.log" | grep -vE '^\s*$|: \[' | head -n 4 | tr '\n' ' ')
	rm -f "$dir/.convert.log"
	echo "Debian makedumpfile $MDF_VERSION cannot convert this dump: $out" >>"$dir/.warnings"
	[ -n "$MDF_UP" ] || {
		CONVERTED=0
		CONVERTED_BY="not converted: Debian's $MDF_VERSION says \"$out\" (set ${UPSTREAM_MDF[$DARCH]} to convert with an upstream makedumpfile); vmcore.elf is kept"
		log "WARNING: $REL: makedumpfile $MDF_VERSION refuses the dump ($out); keeping the raw vmcore.elf only"
		return
	}
	CONV=("$MDF_UP")
	echo "makedumpfile -c -d $DUMPLEVEL vmcore.elf vmcore.kdump-zlib   # Debian's failed; upstream $MDF_UP_VERSION" >>"$dir/.cmds"
	if (cd "$dir" && "${CONV[@]}" -c -d $DUMPLEVEL vmcore.elf vmcore.kdump-zlib) >"$dir/.convert.log" 2>&1; then
		cat "$dir/.convert.log" >>"$dir/ref/makedumpfile.log"
		rm -f "$dir/.convert.log"
		CONVERTED_BY="converted by upstream makedumpfile $MDF_UP_VERSION instead: Debian's $MDF_VERSION says \"$out\""
		log "WARNING: $REL: makedumpfile $MDF_VERSION refuses the dump ($out); converted with upstream $MDF_UP_VERSION"
		tool_time "makedumpfile $MDF_UP_VERSION -c -d $DUMPLEVEL (kdump-zlib)" "$t0"
		return
	fi
	rm -f "$dir/vmcore.kdump-zlib"
	local up
	up=$(tr '\r' '\n' <"$dir/.convert.log" | grep -vE '^\s*$|: \[' | head -n 4 | tr '\n' ' ')
	cat "$dir/.convert.log" >>"$dir/ref/makedumpfile.log"
	rm -f "$dir/.convert.log"
	echo "upstream makedumpfile $MDF_UP_VERSION cannot convert this dump either: $up" >>"$dir/.warnings"
	CONVERTED=0
	CONVERTED_BY="not converted: Debian's $MDF_VERSION says \"$out\"; upstream $MDF_UP_VERSION says \"$up\"; vmcore.elf is kept"
	log "WARNING: $REL: neither makedumpfile $MDF_VERSION nor upstream $MDF_UP_VERSION converts the dump; keeping the raw vmcore.elf only"
}

# make_kdump_dump SCENARIO DIR MEM CRASHKERNEL FORMATS(all|small)
make_kdump_dump() {
	local scen=$1 dir=$2 mem=$3 ck=$4 formats=$5 size elf files dump
	CONVERTED=1
	[ -e "$dir/.unconverted" ] && CONVERTED=0
	files="ORIGIN.md console.log $(ref_outputs)"
	if [ "$CONVERTED" = 0 ]; then files="$files vmcore.elf"
	elif [ "$formats" = all ]; then files="$files $(kdump_outputs)"
	else files="$files vmcore.kdump-zlib vmcore.flat"; fi
	if is_complete "$dir" "$files"; then
		log "$REL/$scen: complete, skipping ($dir)"
		return
	fi
	if refresh_refs "$dir" "$files"; then
		log "$REL/$scen: added the missing references ($dir)"
		return
	fi
	rm -rf "$dir" && mkdir -p "$dir/ref"
	TOOLS_LOG=$dir/ref/tools.txt
	: >"$dir/.cmds"
	: >"$dir/.warnings"
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
		echo "qemu: $(${QEMU_SYSTEM[$DARCH]} --version | head -n1)"
		echo "makedumpfile: $MDF_DESC"
		[ -z "$MDF_UP" ] || echo "makedumpfile (upstream): $MDF_UP_VERSION ($MDF_UP)" | sed "s|$CACHE_DIR/||"
		[ "${CRASH_REFS[$DARCH]}" = 1 ] && echo "crash: $(crash --version 2>/dev/null | grep -m1 -o 'crash [0-9.]*')"
		[ -n "$CRASH_TRIXIE" ] && echo "crash806: Debian 13 crash $(sed -n 's/^crash //p' "$CRASH_TRIXIE/.versions")"
		echo "drgn: $(drgn_version)${DRGN_PYTHONPATH:+ (built from source)}$([ -n "$DRGN_PYTHONPATH" ] || echo " (python3-drgn $(dpkg-query -W -f='${Version}' python3-drgn))")"
		echo "kernel: linux-image-$REL $KVER ($DARCH)"
		echo "# seconds"
		printf '%-58s %8ss\n' "qemu boot+panic+capture ($(guest_accel), $mem)" "$BOOT_SECS"
	} >"$TOOLS_LOG"
	echo "# the raw ELF vmcore.elf is /proc/vmcore copied by dd in the capture kernel" >>"$dir/.cmds"
	convert_first "$dir"
	dump=vmcore.elf
	if [ "$CONVERTED" = 1 ]; then
		(cd "$dir" && rm -f vmcore.flat)
		local t0
		t0=$(now)
		echo "makedumpfile -F -c -d $DUMPLEVEL vmcore.elf > vmcore.flat" >>"$dir/.cmds"
		(cd "$dir" && "${CONV[@]}" -F -c -d $DUMPLEVEL vmcore.elf >vmcore.flat 2>>ref/makedumpfile.log) ||
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
		dump=vmcore.kdump-zlib
	else
		touch "$dir/.unconverted"
	fi
	echo "makedumpfile --dump-dmesg vmcore.elf ref/dmesg.makedumpfile.txt   # $MDF_DESC" >>"$dir/.cmds"
	[ -z "$MDF_UP" ] || echo "makedumpfile --dump-dmesg vmcore.elf ref/dmesg.makedumpfile-upstream.txt   # upstream $MDF_UP_VERSION" >>"$dir/.cmds"
	[ -n "$CRASH_TRIXIE" ] && echo "crash -s vmlinux-$REL $dump   # Debian 13 crash $(sed -n 's/^crash //p' "$CRASH_TRIXIE/.versions"), same commands, '> ref/crash806-*.txt'" >>"$dir/.cmds"
	[ "${CRASH_REFS[$DARCH]}" = 1 ] && echo "crash -s ${CRASH_FLAGS:+$CRASH_FLAGS }vmlinux-$REL $dump   # stdin: $(echo "$CRASH_CMDS" | cut -d'|' -f1 | paste -sd, | sed 's/,/, /g') (each '> ref/crash-*.txt')" >>"$dir/.cmds"
	echo "${DRGN_PYTHONPATH:+PYTHONPATH=<drgn $(drgn_version)> }/usr/bin/python3 testdata/corpus/drgn_refs.py $dump ref vmlinux-$REL crashmod.ko <virtio, dm-mod module debug files>" >>"$dir/.cmds"
	make_refs "$dir" "$dump" vmcore.elf
	clean_mdf_log "$dir/ref/makedumpfile.log"
	grep -vE '^(makedumpfile Completed|The dumpfiles? (is|are) saved|The dmesg log is saved)' "$dir/ref/makedumpfile.log" |
		sort | uniq -c | sort -rn >>"$dir/.warnings" || true
	check_panic "$dir" "$scen"
	cp "$BUILD/crashmod/crashmod.ko" "$dir/ref/crashmod.ko"
	write_origin "$dir" "$scen" "$mem" "$ck" "kdump: panic -> crash_kexec -> capture kernel (\`irqpoll nr_cpus=1 maxcpus=1 reset_devices\`) -> \`dd if=/proc/vmcore of=/dev/vda\`"
	rm -f "$dir/.cmds" "$dir/.warnings"
	if [ "$KEEP_ELF" != 1 ] && [ "$CONVERTED" = 1 ]; then rm -f "$elf"; fi
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
	: >"$dir/.warnings"
	QEMU_DUMP_LOG=
	CONVERTED=1 CONVERTED_BY="(no conversion: QEMU wrote the dumps)"
	boot_guest "$scen" "$dir" "$GUEST_MEM" "" 0
	grep -qE "$(panic_pattern $scen)" "$dir/console.log" ||
		die "$REL/$scen: the scenario did not panic; console log kept: $dir/console.log"
	[ -s "$dir/vmcore.qemu-elf" ] || die "$REL/$scen: QEMU dump-guest-memory wrote nothing"
	{
		echo "# tool versions"
		echo "qemu: $(${QEMU_SYSTEM[$DARCH]} --version | head -n1)"
		echo "makedumpfile: $MDF_DESC"
		[ "${CRASH_REFS[$DARCH]}" = 1 ] && echo "crash: $(crash --version 2>/dev/null | grep -m1 -o 'crash [0-9.]*')"
		echo "drgn: $(drgn_version)"
		echo "# seconds"
		printf '%-58s %8ss\n' "qemu boot until panic ($(guest_accel), $GUEST_MEM)" "$BOOT_SECS"
		printf '%s' "$QEMU_DUMP_LOG" | awk '{i=index($0, ": "); printf "%-58s %8s\n", substr($0, 1, i-1), substr($0, i+2)}'
	} >"$TOOLS_LOG"
	printf '%s' "$QEMU_DUMP_LOG" | grep FAILED >>"$dir/.warnings" || true
	{
		echo "# after the panic (panic=0: the guest stays halted), on the HMP monitor:"
		echo "dump-guest-memory vmcore.qemu-elf"
		echo "dump-guest-memory -s vmcore.qemu-snappy   # kdump-compressed, written flattened by QEMU 7.2"
		echo "dump-guest-memory -z vmcore.qemu-zlib"
		echo "dump-guest-memory -l vmcore.qemu-lzo"
		echo "makedumpfile --dump-dmesg vmcore.qemu-elf ref/dmesg.makedumpfile.txt"
		[ "${CRASH_REFS[$DARCH]}" = 1 ] && echo "crash -s ${CRASH_FLAGS:+$CRASH_FLAGS }vmlinux-$REL vmcore.qemu-elf   # stdin: the same commands as the kdump dumps"
		echo "/usr/bin/python3 testdata/corpus/drgn_refs.py vmcore.qemu-elf ref vmlinux-$REL crashmod.ko ..."
	} >>"$dir/.cmds"
	make_refs "$dir" vmcore.qemu-elf vmcore.qemu-elf
	clean_mdf_log "$dir/ref/makedumpfile.log"
	grep -vE '^(makedumpfile Completed|The dumpfiles? (is|are) saved|The dmesg log is saved)' "$dir/ref/makedumpfile.log" |
		sed 's/^/makedumpfile: /' >>"$dir/.warnings" || true
	check_panic "$dir" "$scen"
	cp "$BUILD/crashmod/crashmod.ko" "$dir/ref/crashmod.ko"
	write_origin "$dir" "$scen" "$GUEST_MEM" "" "QEMU \`dump-guest-memory\` over the HMP monitor after the panic (no kdump; \`-device vmcoreinfo\`, \`panic=0\`)"
	rm -f "$dir/.cmds" "$dir/.warnings"
	chmod -R a+rX "$dir"
	touch "$dir/.complete"
	log "$REL/$scen: done: $(du -sh "$dir" | cut -f1) in $dir"
}

make_fixtures() {
	local scen dir dest base
	base=$FIXTURE_DEST
	if [ -z "$base" ]; then
		if [ -d "$ROOT/testdata/dumps/$REL" ]; then base=$ROOT/testdata/dumps; else base=$CACHE_DIR/fixtures; fi
	fi
	for scen in $FIXTURE_SCENARIOS; do
		dir=$CORPUS_DIR/fixtures/$REL/$scen$SUFFIX
		make_kdump_dump "$scen" "$dir" "${FIXTURE_MEM_ARCH[$FLAVOUR]}" "${FIXTURE_CK_ARCH[$FLAVOUR]}" small
		dest=$base/$REL/$scen$SUFFIX
		rm -rf "$dest" && mkdir -p "$dest/ref"
		cp "$dir/console.log" "$dir/ORIGIN.md" "$dest/"
		if [ -e "$dir/vmcore.kdump-zlib" ]; then cp "$dir/vmcore.kdump-zlib" "$dest/"; else cp "$dir/vmcore.elf" "$dest/"; fi
		case " $FIXTURE_FLAT " in *" $scen "*) cp "$dir/vmcore.flat" "$dest/" ;; esac
		cp "$dir"/ref/*.txt "$dest/ref/"
		cp "$dir"/ref/*.json "$dest/ref/" 2>/dev/null || true
		cp "$dir/ref/crashmod.ko" "$dest/ref/"
		log "fixture $dest: $(du -sh "$dest" | cut -f1)"
	done
}

# ---------------------------------------------------------------- main
main() {
	local t_all t_k tok scen
	t_all=$(now)
	setup_apt_sources
	install_host_tools
	for tok in $(expand_kernels $KERNELS); do
		t_k=$(now)
		resolve_kernel "$tok"
		prepare_kernel
		if [ -z "${ACCEL_DONE:-}" ] && [ "$DARCH" = amd64 ]; then detect_accel "$VMLINUZ"; ACCEL_DONE=1; fi
		setup_makedumpfile
		build_module
		build_hog
		build_initramfs
		for scen in $SCENARIOS; do
			make_kdump_dump "$scen" "$CORPUS_DIR/$REL/$scen$SUFFIX" "$GUEST_MEM" "$CRASHKERNEL" all
		done
		[ "$QEMU_DUMP" = 1 ] && make_qemu_dump "$CORPUS_DIR/$REL/qemu-sysrq-c$SUFFIX"
		if [ "$FIXTURES" = 1 ]; then
			case " $(expand_kernels $FIXTURE_KERNELS | tr '\n' ' ') " in
			*" $tok "* | *" $REL "*) make_fixtures ;;
			esac
		fi
		log "$REL: done in $(since "$t_k")s"
	done
	log "all done in $(since "$t_all")s; corpus: $(du -sh "$CORPUS_DIR" | cut -f1) in $CORPUS_DIR"
}
# One line, so that bash has read it before main runs: editing this file while it
# runs does not disturb the run.
main; exit $?
