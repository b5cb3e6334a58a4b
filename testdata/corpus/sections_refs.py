#!/usr/bin/python3
"""Reference outputs from drgn (>= 0.2.0) for the analysis sections of issue 19
that drgn_refs.py does not cover.

usage: PYTHONPATH=<drgn build> sections_refs.py VMCORE OUTDIR DEBUGFILE...

Writes OUTDIR/drgn-sections.json, one object:
  zones       every populated zone: node, name, spanned, present, managed, free
              pages, min/low/high watermarks (drgn's *_wmark_pages) and the buddy
              allocator's free blocks per order (free_area[].nr_free)
  meminfo     counters drgn-meminfo.json lacks: committed (vm_memory_committed),
              hugetlb pages, swap
  processes   every thread group leader with an mm: task_rss() (file, anon,
              shmem, swap), total_vm, pgtables_bytes, oom_score_adj, uid and the
              memory cgroup's path (cgroup_path)
  memcgs      every memory cgroup of those processes: usage, max, failcnt
  locks       every task in D state waiting in a mutex, rw_semaphore or
              semaphore slow path: the lock, read from the slow path's frame
              variable (DWARF: "lock" or "sem"), and its owner (mutex_owner,
              rwsem_owner)
  runq        every online CPU's rq->clock, the current task's
              sched_info.last_arrival, every queued task's sched_info.last_queued
  disks       every disk's busy requests (request_queue_busy_iter) with their
              start_time_ns and cmd_flags, and the monotonic time at the crash
  superblocks the initial namespace's mounts' s_flags, frozen level, s_wb_err
  cmdline     saved_command_line
A part whose output cannot be produced holds {"error": "..."} instead, so a
failure of the reference tool is recorded rather than hidden.
"""
import json
import os
import sys
import traceback

import drgn
from drgn import cast
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_state_to_char

from drgn_refs import open_program  # beside this script


def part(fn):
    try:
        return fn()
    except Exception as e:  # record the failure in the output itself
        traceback.print_exc()
        return {"error": "drgn %s: %s: %s" % (drgn.__version__, type(e).__name__, e)}


def comm(task):
    return task.comm.string_().decode("utf-8", "replace")


def zones(prog):
    from drgn.helpers.linux.mmzone import (for_each_online_pgdat, high_wmark_pages, low_wmark_pages,
                                           min_wmark_pages)
    from drgn.helpers.linux.vmstat import zone_page_state

    nr_free = prog["NR_FREE_PAGES"]
    out = []
    for pgdat in for_each_online_pgdat(prog):
        for z in pgdat.node_zones:
            if not z.present_pages.value_():
                continue
            out.append({
                "node": pgdat.node_id.value_(),
                "name": z.name.string_().decode(),
                "spanned": z.spanned_pages.value_(),
                "present": z.present_pages.value_(),
                "managed": z.managed_pages.counter.value_(),
                "free": int(zone_page_state(z, nr_free)),
                "min": int(min_wmark_pages(z)),
                "low": int(low_wmark_pages(z)),
                "high": int(high_wmark_pages(z)),
                "free_blocks": [a.nr_free.value_() for a in z.free_area],
            })
    return out


def meminfo(prog):
    from drgn.helpers.linux.hugetlb import hugetlb_total_usage
    from drgn.helpers.linux.mm import vm_memory_committed
    from drgn.helpers.linux.swap import swap_total_usage

    huge = hugetlb_total_usage(prog)
    swap = swap_total_usage(prog)
    return {"committed": int(vm_memory_committed(prog)), "huge_pages": int(huge.pages),
            "huge_pages_free": int(huge.free_pages), "swap_total": int(swap.pages), "swap_free": int(swap.free_pages)}


def processes(prog):
    from drgn.helpers.linux.cgroup import cgroup_path
    from drgn.helpers.linux.mm import task_rss

    memcg_id = prog["memory_cgrp_id"].value_()
    procs, memcgs = [], {}
    for t in for_each_task(prog):
        if t.pid.value_() != t.tgid.value_() or not t.mm.read_():
            continue
        if t.flags.value_() & 0x00200000:  # PF_KTHREAD
            continue
        rss = task_rss(t)
        css = t.cgroups.subsys[memcg_id]
        memcg = drgn.container_of(css, "struct mem_cgroup", "css")
        path = cgroup_path(css.cgroup).decode()
        procs.append({"pid": t.pid.value_(), "comm": comm(t), "file": int(rss.file), "anon": int(rss.anon),
                      "shmem": int(rss.shmem), "swap": int(rss.swap), "total_vm": t.mm.total_vm.value_(),
                      "pgtables_bytes": t.mm.pgtables_bytes.counter.value_(),
                      "oom_score_adj": t.signal.oom_score_adj.value_(), "uid": t.cred.uid.val.value_(),
                      "memcg": path})
        memcgs[path] = {"path": path, "mem_cgroup": "0x%x" % memcg.value_(),
                        "usage": memcg.memory.usage.counter.value_(), "max": memcg.memory.max.value_(),
                        "failcnt": memcg.memory.failcnt.value_()}
    return procs, list(memcgs.values())


LOCK_FRAMES = {  # slow path -> (the frame variable holding the lock, kind)
    "__mutex_lock": ("lock", "mutex"), "__mutex_lock_common": ("lock", "mutex"),
    "rwsem_down_write_slowpath": ("sem", "rwsem"), "rwsem_down_read_slowpath": ("sem", "rwsem"),
    "__down_common": ("sem", "semaphore"),
}


def locks(prog):
    from drgn.helpers.linux.locking import mutex_owner, rwsem_owner

    out = []
    for t in for_each_task(prog):
        if task_state_to_char(t) != "D":
            continue
        entry = {"pid": t.pid.value_(), "comm": comm(t)}
        try:
            for frame in prog.stack_trace(t):
                name = frame.name or ""
                base = name.split(".")[0]
                if base not in LOCK_FRAMES:
                    continue
                var, kind = LOCK_FRAMES[base]
                try:
                    lock = frame[var]
                except (KeyError, LookupError, drgn.ObjectAbsentError) as e:
                    entry["error"] = "%s: %s in %s" % (type(e).__name__, var, name)
                    continue
                if lock.absent_:
                    entry["error"] = "%s is optimized out in %s" % (var, name)
                    continue
                entry["kind"], entry["lock"] = kind, "0x%x" % lock.value_()
                owner = None
                if kind == "mutex":
                    owner = mutex_owner(lock)
                elif kind == "rwsem":
                    owner = rwsem_owner(lock)
                if owner is not None and owner.value_():
                    entry["owner_task"] = "0x%x" % owner.value_()
                    entry["owner_pid"] = owner.pid.value_()
                entry.pop("error", None)
                break
        except Exception as e:
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        out.append(entry)
    return out


def runq(prog):
    from drgn.helpers.linux.cpumask import for_each_online_cpu
    from drgn.helpers.linux.sched import cpu_rq, rq_for_each_fair_task, rq_for_each_rt_task

    out = []
    for cpu in for_each_online_cpu(prog):
        rq = cpu_rq(prog, cpu)
        curr = rq.curr
        queued = {}
        for t in list(rq_for_each_fair_task(rq)) + list(rq_for_each_rt_task(rq)):
            if t.value_() != curr.value_():
                queued[t.pid.value_()] = t.sched_info.last_queued.value_()
        out.append({"cpu": cpu, "clock": rq.clock.value_(), "curr": curr.pid.value_(),
                    "curr_last_arrival": curr.sched_info.last_arrival.value_(),
                    "queued_last_queued": {str(k): v for k, v in sorted(queued.items())}})
    return out


def disks(prog):
    from drgn.helpers.linux.block import disk_name, for_each_disk, request_queue_busy_iter
    from drgn.helpers.linux.timekeeping import ktime_get_coarse_ns

    out = {"now_ns": int(ktime_get_coarse_ns(prog)), "disks": []}
    for disk in for_each_disk(prog):
        reqs = []
        for rq in request_queue_busy_iter(disk.queue):
            reqs.append({"request": "0x%x" % rq.value_(), "start_time_ns": rq.start_time_ns.value_(),
                         "cmd_flags": rq.cmd_flags.value_(), "state": rq.state.value_()})
        out["disks"].append({"name": disk_name(disk).decode(), "requests": reqs})
    return out


def superblocks(prog):
    from drgn.helpers.linux.fs import for_each_mount, mount_dst

    out = []
    for mnt in for_each_mount(prog):
        sb = mnt.mnt.mnt_sb
        out.append({"dst": mount_dst(mnt).decode("utf-8", "replace"), "superblock": "0x%x" % sb.value_(),
                    "s_flags": sb.s_flags.value_(), "frozen": sb.s_writers.frozen.value_(),
                    "s_wb_err": sb.s_wb_err.value_(), "mnt_flags": mnt.mnt.mnt_flags.value_()})
    return out


def main():
    prog, outdir = open_program(sys.argv)
    out = {"drgn": drgn.__version__}
    out["zones"] = part(lambda: zones(prog))
    out["meminfo"] = part(lambda: meminfo(prog))
    pm = part(lambda: processes(prog))
    if isinstance(pm, dict):
        out["processes"] = out["memcgs"] = pm
    else:
        out["processes"], out["memcgs"] = pm
    out["locks"] = part(lambda: locks(prog))
    out["runq"] = part(lambda: runq(prog))
    out["disks"] = part(lambda: disks(prog))
    out["superblocks"] = part(lambda: superblocks(prog))
    out["cmdline"] = part(lambda: prog["saved_command_line"].string_().decode("utf-8", "replace"))
    with open(os.path.join(outdir, "drgn-sections.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
