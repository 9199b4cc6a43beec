"""Where a command's CPU goes, by the kind of Python process that spent it: a campaign's `hil verify`, its pytest,
its emulator, `hil validate`, the test runner's workers, other `hil` commands. Every Python process the command
starts (with the environment it passes on) records its own CPU time and command line at exit
(benchmarks/cpu_accounting/sitecustomize.py); the total is the whole tree's, as the kernel counts it, so what is not
Python (setup's pip and npm, the browser, the report CLI) or exits without running atexit handlers (killed, or
started with another PYTHONPATH) is the difference.

    .venv/bin/python benchmarks/cpu_by_process.py -- .venv/bin/python -m pytest tests/unit tests/system -n 3 ...

What CI runs, without setup: scripts/test.sh's pytest line. The figures of 2026-12-07 are in benchmarks/README.md.
"""

import argparse
import collections
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def kind(argv: list[str]) -> str:
    """What a process is, from its command line alone."""
    line = " ".join(argv)
    program = Path(argv[1]).name if len(argv) > 1 and not argv[1].startswith("-") else ""
    runs_hil = program in ("hil", "cli.py") or "-m hil.cli" in line
    if "xdist" in line or "execnet" in line or re.search(r"-c\s+import sys;exec", line):
        return "test-runner worker (unit tests in process)"
    if "--collect-only" in line:
        return "pytest collecting the safety suites (hil validate, trace, rig, driver)"
    if re.search(r"pytest\S* -c \S*hil/reference/pytest\.ini", line):
        return "campaign: pytest on the safety suites"
    if "hil.emulator" in line or "hil/emulator/__main__.py" in line:
        return "emulator"
    if runs_hil and " validate" in line:
        return "hil validate (the scheduler of its campaigns)"
    if runs_hil and " verify" in line:
        return "hil verify"
    if runs_hil:
        return "other hil commands"
    if "pytest" in line:
        return "pytest (the test runner, or one a test starts)"
    return "other Python: " + Path(argv[0]).name + (" " + argv[1] if len(argv) > 1 else "")


def kinds(rows: list[dict]) -> list[str]:
    """Each process's kind, told apart by its parent and children where the command line cannot: an emulator a
    campaign's pytest started, or one a unit test did; a `hil verify` that ran a campaign's pytest, or one refused
    or stopped before it."""
    own = [kind(row["argv"]) for row in rows]
    by_pid = {row["pid"]: name for row, name in zip(rows, own, strict=True)}
    campaign_pytest_parents = {
        row["ppid"] for row, name in zip(rows, own, strict=True) if name.startswith("campaign: pytest")
    }
    named = []
    for row, name in zip(rows, own, strict=True):
        if name == "emulator":
            campaign = by_pid.get(row["ppid"]) == "campaign: pytest on the safety suites"
            name = "campaign: emulator" if campaign else "emulator a test started"
        elif name == "hil verify":
            ran = row["pid"] in campaign_pytest_parents
            name = "campaign: hil verify" if ran else "hil verify that ran no campaign (refused, stopped)"
        named.append(name)
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    with tempfile.TemporaryDirectory() as tmp:
        account = Path(tmp) / "account.jsonl"
        env = os.environ | {
            "HIL_CPU_ACCOUNT": str(account),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE / "cpu_accounting"), os.environ.get("PYTHONPATH")])),
        }
        start = time.perf_counter()
        code = subprocess.run(command, env=env).returncode
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = [json.loads(line) for line in account.read_text().splitlines()] if account.exists() else []
    total = usage.ru_utime + usage.ru_stime
    spent: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for row, name in zip(rows, kinds(rows), strict=True):
        spent[name] += row["cpu_s"]
        count[name] += 1
    print(f"exit {code}; wall {wall:.0f} s; CPU {total:.0f} s (user {usage.ru_utime:.0f}, system {usage.ru_stime:.0f})")
    for name, cpu in spent.most_common():
        share, each = 100 * cpu / total, cpu / count[name]
        print(f"  {cpu:8.1f} s {share:5.1f} %  {count[name]:5d} processes, {each:6.2f} s each  {name}")
    rest = total - sum(spent.values())
    print(f"  {rest:8.1f} s {100 * rest / total:5.1f} %  not accounted (not Python, killed, or another PYTHONPATH)")
    out = HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cpu_by_process.json").write_text(
        json.dumps(
            {"command": command, "wall_s": wall, "cpu_s": total, "by_kind": dict(spent), "processes": dict(count)},
            indent=1,
        )
    )
    sys.exit(code)


if __name__ == "__main__":
    main()
