#!/bin/busybox sh
# /init of the corpus guest (both the crashing kernel and the kdump capture kernel).
# Written by testdata/corpus/make.sh into the initramfs. Lines starting with
# "CORPUS:" on the serial console are read by make.sh.
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true

say() { echo "CORPUS: $*"; }
arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p;s/^$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline | head -n1; }
die() { say "ERROR: $*"; sync; poweroff -f; sleep 30; }

rel=$(uname -r)
load_modules() { # load_modules SET: the modules of /modules/SET in order
	for m in $(cat "/modules/$1/order"); do
		insmod "/modules/$1/$m" || say "insmod $1/$m failed"
	done
}
load_modules base

if [ -e /proc/vmcore ]; then
	# ---- capture kernel ----
	size=$(stat -c %s /proc/vmcore)
	say "capture kernel $rel up; /proc/vmcore is $size bytes"
	say "capture cmdline: $(cat /proc/cmdline)"
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
	[ -b /dev/vda ] || die "no /dev/vda in capture kernel"
	t0=$(date +%s)
	dd if=/proc/vmcore of=/dev/vda bs=1M conv=fsync 2>&1 | sed 's/^/CORPUS: dd: /'
	t1=$(date +%s)
	say "copied /proc/vmcore to /dev/vda in $((t1-t0)) s"
	echo "VMCORE_SIZE=$size"
	sync
	say "capture done, powering off"
	poweroff -f
	sleep 30
fi

# ---- first kernel ----
scenario=$(arg corpus_scenario)
kdump=$(arg corpus_kdump)
say "first kernel $rel scenario=$scenario"
say "cmdline: $(cat /proc/cmdline)"
say "nproc=$(nproc) memtotal=$(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
say "cpu model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
say "iomem: $(grep -i 'crash kernel' /proc/iomem)"
insmod /crashmod.ko || die "insmod crashmod.ko failed"
say "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"

if [ "$kdump" != 0 ]; then
	# kexec-tools (>= 2.0.15) reads _text from /proc/kallsyms on arm64; a kernel
	# without CONFIG_KALLSYMS_ALL (Debian 11/12 arm64) lists only _stext, which is
	# the same address there (the image starts with its text). Without _text,
	# kexec -p writes an ELF core header with a wrong kernel segment.
	if [ "$(uname -m)" = aarch64 ] && ! grep -q ' _text$' /proc/kallsyms; then
		{ sed -n 's/ _stext$/ _text/p' /proc/kallsyms; cat /proc/kallsyms; } >/tmp/kallsyms
		mount --bind /tmp/kallsyms /proc/kallsyms
		say "kallsyms has no _text: supplied it as $(head -n1 /tmp/kallsyms) for kexec"
	fi
	kexec -p /boot/vmlinuz --initrd=/boot/capture.img \
		--append="console=$(arg console) irqpoll nr_cpus=1 maxcpus=1 reset_devices panic=1 corpus_role=capture" \
		|| die "kexec -p failed"
	umount /proc/kallsyms 2>/dev/null || true
	say "kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded)"
	[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "capture kernel not loaded"
else
	say "kdump not loaded (QEMU dump-guest-memory run)"
	load_modules qemu
	say "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
fi

# The kernel and capture initramfs are no longer needed (kexec copied them into
# the crashkernel area): free their rootfs pages, which makedumpfile would keep.
rm -f /boot/vmlinuz /boot/capture.img
sysctl -w kernel.panic_on_oops=1 >/dev/null
T=/sys/kernel/debug/crashmod/trigger
say "triggering scenario $scenario"
case "$scenario" in
sysrq-c)
	echo 1 > /proc/sys/kernel/sysrq
	sh -c 'echo c > /proc/sysrq-trigger' ;;
module-null-deref)
	sh -c "echo null-deref > $T" ;;
bug)
	sh -c "echo bug > $T" ;;
panic)
	sh -c "echo panic > $T" ;;
warn)
	sysctl -w kernel.panic_on_warn=1 >/dev/null
	sh -c "echo warn > $T" ;;
hung-task)
	sysctl -w kernel.hung_task_panic=1 kernel.hung_task_timeout_secs=5 >/dev/null
	sh -c "echo hung > $T" &
	;;
soft-lockup)
	sysctl -w kernel.softlockup_panic=1 kernel.watchdog_thresh=3 >/dev/null
	sh -c "echo softlockup > $T" &
	;;
oom)
	sysctl -w vm.panic_on_oom=1 vm.overcommit_memory=1 >/dev/null
	/bin/hog ;;
mutex-deadlock)
	sysctl -w kernel.hung_task_panic=1 kernel.hung_task_timeout_secs=5 >/dev/null
	sh -c "echo abba > $T" ;;
oom-cgroup)
	# panic_on_oom=2 panics on a memory cgroup's OOM too ("compulsory").
	sysctl -w vm.panic_on_oom=2 vm.overcommit_memory=1 >/dev/null
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || die "cannot mount cgroup2"
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control || die "no memory controller"
	mkdir /sys/fs/cgroup/corpus-hog
	echo 32M > /sys/fs/cgroup/corpus-hog/memory.max
	say "memory.max of corpus-hog: $(cat /sys/fs/cgroup/corpus-hog/memory.max)"
	sh -c 'echo $$ > /sys/fs/cgroup/corpus-hog/cgroup.procs && exec /bin/hog' ;;
hung-io)
	sysctl -w kernel.hung_task_panic=1 kernel.hung_task_timeout_secs=5 >/dev/null
	load_modules dm
	# A linear device-mapper target over the first 8 MiB of the capture disk
	# (the capture kernel overwrites it). Suspended, it queues every write.
	DM_DISABLE_UDEV=1 dmsetup create corpus-io --table "0 16384 linear /dev/vda 0" || die "dmsetup create failed"
	DM_DISABLE_UDEV=1 dmsetup suspend corpus-io || die "dmsetup suspend failed"
	say "dmsetup: $(DM_DISABLE_UDEV=1 dmsetup info -c --noheadings corpus-io)"
	dev=/dev/mapper/corpus-io
	[ -b $dev ] || dev=/dev/dm-0
	# a buffered write, then fsync: the writer waits for the write-back in D state
	sh -c "dd if=/dev/zero of=$dev bs=4096 count=16 conv=fsync" &
	;;
soft-lockup-runq)
	sysctl -w kernel.softlockup_panic=1 kernel.watchdog_thresh=3 >/dev/null
	for i in 1 2 3; do
		taskset 2 sh -c 'while :; do :; done' &
	done
	sleep 1
	say "busy loops on CPU 1: $(for p in $(pidof sh); do taskset -p $p 2>/dev/null; done | grep -c 'mask: 2')"
	taskset 2 sh -c "echo softlockup > $T" &
	;;
*)
	die "unknown scenario '$scenario'" ;;
esac
# Still alive: wait for a delayed panic (hung task, soft lockup), then give up.
i=0
while [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
say "ERROR: scenario $scenario did not panic within 120 s"
poweroff -f
