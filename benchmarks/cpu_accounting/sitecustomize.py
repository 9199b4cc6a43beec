"""Loaded by every Python process started with this folder on PYTHONPATH (benchmarks/cpu_by_process.py): at its
exit, one JSON line with its own CPU time, command line, process id and parent's, appended to the file that
$HIL_CPU_ACCOUNT names."""

import atexit
import json
import os
import sys


def _account() -> None:
    times = os.times()
    line = json.dumps(
        {
            "cpu_s": times.user + times.system,
            "argv": getattr(sys, "orig_argv", sys.argv),
            "pid": os.getpid(),
            "ppid": _PARENT,
        }
    )
    with open(os.environ["HIL_CPU_ACCOUNT"], "a", encoding="utf-8") as account:
        account.write(line + "\n")


_PARENT = os.getppid()  # at start: a process orphaned before its exit reports init's id then

if os.environ.get("HIL_CPU_ACCOUNT"):
    atexit.register(_account)
