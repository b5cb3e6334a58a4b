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
for m in $(cat /modules/order); do
	insmod "/modules/$m" || say "insmod $m failed"
done

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
	kexec -p /boot/vmlinuz --initrd=/boot/capture.img \
		--append="console=ttyS0 irqpoll nr_cpus=1 maxcpus=1 reset_devices panic=1 corpus_role=capture" \
		|| die "kexec -p failed"
	say "kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded)"
	[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "capture kernel not loaded"
else
	say "kdump not loaded (QEMU dump-guest-memory run)"
	for m in $(cat /modules/qemu/order); do
		insmod "/modules/qemu/$m" || say "insmod $m failed"
	done
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
*)
	die "unknown scenario '$scenario'" ;;
esac
# Still alive: wait for a delayed panic (hung task, soft lockup), then give up.
i=0
while [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
say "ERROR: scenario $scenario did not panic within 120 s"
poweroff -f
