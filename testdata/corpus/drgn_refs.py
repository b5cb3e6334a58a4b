#!/usr/bin/python3
"""Reference outputs from drgn for one dump.

usage: [PYTHONPATH=<drgn build>] drgn_refs.py VMCORE OUTDIR DEBUGFILE...

With any drgn (Debian's python3-drgn 0.0.22 too): OUTDIR/drgn-dmesg.txt,
drgn-ps.txt, drgn-modules.txt and drgn-bt.txt.
With drgn >= 0.2.0 (its helpers and ORC/arm64 unwinding) also:
  drgn-frames.json   crashed thread's frames, the task on each online CPU with its
                     frames, panic_cpu, modules (the format of shared/corpus)
  drgn-sys.json      utsname, online CPUs, number of tasks (idle tasks excluded)
  drgn-meminfo.json  /proc/meminfo-like counters (pages) from vm_node_stat/vm_zone_stat
  drgn-slabs.json    every slab cache with its object counts (slab_cache_usage)
  drgn-runq.json     every online CPU's runqueue: current task, queued fair and RT tasks
  drgn-mounts.json   the initial mount namespace's mounts
  drgn-blocked.json  every task in D state (TASK_UNINTERRUPTIBLE) with its frames
  drgn-disks.json    every gendisk with its busy requests
A file whose output cannot be produced holds "ERROR: ..." instead, so a
failure of the reference tool is recorded rather than hidden.
"""
import json
import os
import sys
import traceback

import drgn
from drgn import Program
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_dmesg
from drgn.helpers.linux.sched import task_cpu, task_state_to_char

VERSION = tuple(int(x) for x in drgn.__version__.split("+")[0].split(".")[:3])


def write(outdir, name, fn):
    path = os.path.join(outdir, name)
    try:
        text = fn()
    except Exception as e:  # record the failure in the file itself
        text = "ERROR: drgn %s failed: %s: %s\n" % (drgn.__version__, type(e).__name__, e)
        sys.stderr.write("%s: %s" % (name, text))
        traceback.print_exc()
    with open(path, "w", encoding="utf-8", errors="replace") as f:
        f.write(text)


def to_json(obj):
    return json.dumps(obj, indent=1) + "\n"


def comm(task):
    return task.comm.string_().decode("utf-8", "replace")


def ps(prog):
    lines = ["PID PPID CPU TASK ST COMM"]
    for t in for_each_task(prog):
        lines.append("%d %d %d 0x%x %s %s" % (
            t.pid.value_(), t.real_parent.pid.value_(), task_cpu(t), t.value_(),
            task_state_to_char(t), comm(t)))
    return "\n".join(lines) + "\n"


def module_list(prog):
    out = []
    for mod in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
        name = mod.name.string_().decode()
        try:  # Linux < 6.4
            base, size = mod.core_layout.base.value_(), mod.core_layout.size.value_()
        except AttributeError:  # Linux >= 6.4: mem[MOD_TEXT] base, all regions' size
            base = mod.mem[0].base.value_()
            size = sum(mod.mem[i].size.value_() for i in range(len(mod.mem)))
        out.append((name, base, size))
    return out


def modules(prog):
    lines = ["NAME BASE SIZE"]
    lines += ["%s 0x%x %d" % m for m in module_list(prog)]
    return "\n".join(lines) + "\n"


def bt(prog):
    thread = prog.crashed_thread()
    task = thread.object
    head = "PID %d COMM %s CPU %d\n" % (thread.tid, comm(task), task_cpu(task))
    return head + str(thread.stack_trace()) + "\n"


# ---- drgn >= 0.2.0


def frames(trace):
    return [{"name": f.name, "pc": "0x%x" % f.pc, "inline": f.is_inline} for f in trace]


def frames_json(prog):
    from drgn.helpers.linux.cpumask import for_each_online_cpu
    from drgn.helpers.linux.sched import cpu_curr

    out = {"drgn": drgn.__version__}
    try:
        out["panic_cpu"] = prog["panic_cpu"].counter.value_()
    except (KeyError, AttributeError):
        out["panic_cpu"] = None
    thread = prog.crashed_thread()
    out["crashed"] = {"pid": thread.tid, "frames": frames(thread.stack_trace())}
    cpus = []
    for cpu in for_each_online_cpu(prog):
        task = cpu_curr(prog, cpu)
        entry = {"pid": task.pid.value_(), "comm": comm(task), "cpu": cpu}
        try:
            entry["frames"] = frames(prog.stack_trace(task))
        except Exception as e:
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        cpus.append(entry)
    out["cpus"] = cpus
    out["modules"] = [{"name": n, "base": "0x%x" % b, "size": s} for n, b, s in module_list(prog)]
    return to_json(out)


def sys_json(prog):
    from drgn.helpers.linux.cpumask import num_online_cpus

    uts = prog["init_uts_ns"].name
    tasks = sum(1 for _ in for_each_task(prog))
    return to_json({
        "release": uts.release.string_().decode(),
        "version": uts.version.string_().decode(),
        "machine": uts.machine.string_().decode(),
        "nodename": uts.nodename.string_().decode(),
        "cpus": num_online_cpus(prog),
        "tasks_excluding_idle": tasks,
    })


def meminfo_json(prog):
    from drgn.helpers.linux.mm import totalram_pages
    from drgn.helpers.linux.vmstat import global_node_page_state, global_zone_page_state

    def stat(*names):
        # an item is a node or a zone counter depending on the kernel version;
        # the first name the kernel knows wins (items were renamed)
        for name in names:
            try:
                item = prog[name]
            except KeyError:
                continue
            if item.type_.type_name() == "enum node_stat_item":
                return global_node_page_state(prog, item)
            return global_zone_page_state(prog, item)
        return None

    out = {
        "page_size": prog["PAGE_SIZE"].value_() if "PAGE_SIZE" in prog else None,
        "MemTotal": totalram_pages(prog),
        "MemFree": stat("NR_FREE_PAGES"),
        "FilePages": stat("NR_FILE_PAGES"),
        "SwapCache": stat("NR_SWAPCACHE"),
        "Active(anon)": stat("NR_ACTIVE_ANON"),
        "Inactive(anon)": stat("NR_INACTIVE_ANON"),
        "Active(file)": stat("NR_ACTIVE_FILE"),
        "Inactive(file)": stat("NR_INACTIVE_FILE"),
        "Unevictable": stat("NR_UNEVICTABLE"),
        "Mlocked": stat("NR_MLOCK"),
        "Dirty": stat("NR_FILE_DIRTY"),
        "Writeback": stat("NR_WRITEBACK"),
        "AnonPages": stat("NR_ANON_MAPPED"),
        "Mapped": stat("NR_FILE_MAPPED"),
        "Shmem": stat("NR_SHMEM"),
        "SReclaimable": stat("NR_SLAB_RECLAIMABLE_B", "NR_SLAB_RECLAIMABLE"),
        "SUnreclaim": stat("NR_SLAB_UNRECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE"),
        "KernelStack_kB": stat("NR_KERNEL_STACK_KB"),
        "PageTables": stat("NR_PAGETABLE"),
        "Bounce": stat("NR_BOUNCE"),
    }
    try:
        from drgn.helpers.linux.block import nr_blockdev_pages
        out["Buffers"] = nr_blockdev_pages(prog)
    except Exception as e:
        out["Buffers"] = None
        out["Buffers_error"] = "%s: %s" % (type(e).__name__, e)
    if out["FilePages"] is not None and out["Buffers"] is not None:
        out["Cached"] = out["FilePages"] - (out["SwapCache"] or 0) - out["Buffers"]
    try:
        from drgn.helpers.linux.mm import vm_commit_limit
        out["CommitLimit"] = vm_commit_limit(prog)
    except Exception:
        pass
    out["units"] = "pages, except *_kB and page_size (bytes)"
    return to_json(out)


def slabs_json(prog):
    from drgn.helpers.linux.slab import for_each_slab_cache, slab_cache_usage

    caches = []
    for s in for_each_slab_cache(prog):
        entry = {
            "name": s.name.string_().decode("utf-8", "replace"),
            "address": "0x%x" % s.value_(),
            "object_size": s.object_size.value_(),
            "size": s.size.value_(),
        }
        try:
            u = slab_cache_usage(s)
            entry.update(num_slabs=u.num_slabs, num_objs=u.num_objs, active_objs=u.active_objs,
                         free_objs=u.free_objs)
        except Exception as e:
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        caches.append(entry)
    return to_json(caches)


def task_brief(task):
    return {"pid": task.pid.value_(), "comm": comm(task), "task": "0x%x" % task.value_(),
            "state": task_state_to_char(task), "prio": task.prio.value_()}


def runq_json(prog):
    from drgn.helpers.linux.cpumask import for_each_online_cpu
    from drgn.helpers.linux.sched import cpu_rq, rq_for_each_fair_task, rq_for_each_rt_task

    out = []
    for cpu in for_each_online_cpu(prog):
        rq = cpu_rq(prog, cpu)
        if rq.type_.kind == drgn.TypeKind.POINTER:
            rq = rq[0]
        curr = rq.curr
        entry = {"cpu": cpu, "rq": "0x%x" % rq.address_of_().value_(),
                 "nr_running": rq.nr_running.value_(), "clock": rq.clock.value_(),
                 "curr": task_brief(curr)}
        entry["fair"] = [task_brief(t) for t in rq_for_each_fair_task(rq)]
        entry["rt"] = [task_brief(t) for t in rq_for_each_rt_task(rq)]
        out.append(entry)
    return to_json(out)


def mounts_json(prog):
    from drgn.helpers.linux.fs import for_each_mount, mount_dst, mount_fstype, mount_src

    out = []
    for mnt in for_each_mount(prog):
        out.append({"src": mount_src(mnt).decode("utf-8", "replace"),
                    "dst": mount_dst(mnt).decode("utf-8", "replace"),
                    "fstype": mount_fstype(mnt).decode("utf-8", "replace"),
                    "mount": "0x%x" % mnt.value_()})
    return to_json(out)


def blocked_json(prog):
    out = []
    for t in for_each_task(prog):
        if task_state_to_char(t) != "D":
            continue
        entry = task_brief(t)
        entry["cpu"] = task_cpu(t)
        try:
            entry["frames"] = frames(prog.stack_trace(t))
        except Exception as e:
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        out.append(entry)
    return to_json(out)


def disks_json(prog):
    from drgn.helpers.linux.block import disk_devt, disk_name, for_each_disk, request_queue_busy_iter

    out = []
    for disk in for_each_disk(prog):
        devt = disk_devt(disk).value_()
        entry = {"name": disk_name(disk).decode(), "gendisk": "0x%x" % disk.value_(),
                 "major": devt >> 20, "minor": devt & 0xFFFFF}
        try:
            busy = list(request_queue_busy_iter(disk.queue))
            entry["busy_requests"] = len(busy)
        except Exception as e:
            entry["busy_requests_error"] = "%s: %s" % (type(e).__name__, e)
        out.append(entry)
    return to_json(out)


def open_program(argv):
    """The program of the dump named by argv[1] with the debug files
    argv[3:] (a vmlinux, module objects; what drgn cannot use is reported,
    not fatal), and the output directory argv[2]: every reference script's
    command line."""
    vmcore, outdir, debug = argv[1], argv[2], argv[3:]
    prog = Program()
    prog.set_core_dump(vmcore)
    try:
        prog.load_debug_info(debug)
    except drgn.MissingDebugInfoError as e:
        sys.stderr.write("drgn: %s\n" % e)
    return prog, outdir


def main():
    prog, outdir = open_program(sys.argv)
    write(outdir, "drgn-dmesg.txt", lambda: get_dmesg(prog).decode("utf-8", "replace"))
    write(outdir, "drgn-ps.txt", lambda: ps(prog))
    write(outdir, "drgn-modules.txt", lambda: modules(prog))
    write(outdir, "drgn-bt.txt", lambda: bt(prog))
    if VERSION < (0, 2, 0):
        return
    write(outdir, "drgn-frames.json", lambda: frames_json(prog))
    write(outdir, "drgn-sys.json", lambda: sys_json(prog))
    write(outdir, "drgn-meminfo.json", lambda: meminfo_json(prog))
    write(outdir, "drgn-slabs.json", lambda: slabs_json(prog))
    write(outdir, "drgn-runq.json", lambda: runq_json(prog))
    write(outdir, "drgn-mounts.json", lambda: mounts_json(prog))
    write(outdir, "drgn-blocked.json", lambda: blocked_json(prog))
    write(outdir, "drgn-disks.json", lambda: disks_json(prog))


if __name__ == "__main__":
    main()
