#!/usr/bin/python3
"""Every task's stack trace from drgn (0.2.0), as a reference for the
unwinders on tasks that were not running: OUTDIR/drgn-tasks.json.

usage: PYTHONPATH=<drgn> drgn_tasks.py VMCORE OUTDIR DEBUGFILE...

Each entry: pid, comm, and frames [{pc, name, inline}] innermost first, or
error when drgn could not unwind the task.
"""
import json
import os
import sys

import drgn
from drgn.helpers.linux.pid import for_each_task

from drgn_refs import open_program  # beside this script


def main():
    prog, outdir = open_program(sys.argv)
    out = {"drgn": drgn.__version__, "tasks": []}
    for t in for_each_task(prog):
        entry = {"pid": t.pid.value_(), "comm": t.comm.string_().decode("utf-8", "replace"), "frames": []}
        try:
            for f in prog.stack_trace(t):
                entry["frames"].append({"pc": hex(f.pc), "name": f.name or "", "inline": f.is_inline})
        except Exception as e:
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        out["tasks"].append(entry)
    with open(os.path.join(outdir, "drgn-tasks.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
