#!/usr/bin/python3
"""Reference outputs from drgn (Debian python3-drgn 0.0.22) for one dump.

usage: drgn_refs.py VMCORE OUTDIR DEBUGFILE...

Writes OUTDIR/drgn-dmesg.txt, drgn-ps.txt, drgn-modules.txt and drgn-bt.txt.
A file whose output cannot be produced holds "ERROR: ..." instead, so a
failure of the reference tool is recorded rather than hidden.
"""
import os
import sys
import traceback

import drgn
from drgn import Program
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_dmesg
from drgn.helpers.linux.sched import task_cpu, task_state_to_char


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


def ps(prog):
    lines = ["PID PPID CPU TASK ST COMM"]
    for t in for_each_task(prog):
        lines.append("%d %d %d 0x%x %s %s" % (
            t.pid.value_(), t.real_parent.pid.value_(), task_cpu(t), t.value_(),
            task_state_to_char(t), t.comm.string_().decode("utf-8", "replace")))
    return "\n".join(lines) + "\n"


def modules(prog):
    lines = ["NAME BASE SIZE"]
    for mod in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
        name = mod.name.string_().decode()
        try:  # Linux < 6.4
            base, size = mod.core_layout.base.value_(), mod.core_layout.size.value_()
        except AttributeError:  # Linux >= 6.4: mem[MOD_TEXT] base, all regions' size
            base = mod.mem[0].base.value_()
            size = sum(mod.mem[i].size.value_() for i in range(len(mod.mem)))
        lines.append("%s 0x%x %d" % (name, base, size))
    return "\n".join(lines) + "\n"


def bt(prog):
    thread = prog.crashed_thread()
    task = thread.object
    head = "PID %d COMM %s CPU %d\n" % (
        thread.tid, task.comm.string_().decode("utf-8", "replace"), task_cpu(task))
    return head + str(thread.stack_trace()) + "\n"


def main():
    vmcore, outdir, debug = sys.argv[1], sys.argv[2], sys.argv[3:]
    prog = Program()
    prog.set_core_dump(vmcore)
    try:
        prog.load_debug_info(debug)
    except drgn.MissingDebugInfoError as e:
        sys.stderr.write("drgn: %s\n" % e)
    write(outdir, "drgn-dmesg.txt", lambda: get_dmesg(prog).decode("utf-8", "replace"))
    write(outdir, "drgn-ps.txt", lambda: ps(prog))
    write(outdir, "drgn-modules.txt", lambda: modules(prog))
    write(outdir, "drgn-bt.txt", lambda: bt(prog))


if __name__ == "__main__":
    main()
