"""CI's tests one file at a time (the unit tests as one), each alone, and the CPU each takes: user and system time of
its whole process tree (pytest and every campaign, emulator and browser it waits for), with its wall time. What CI's
pytest line would cost without the others beside it, and where its CPU goes by file: CI is bound by its two cores.

    .venv/bin/python benchmarks/cpu_by_test_file.py [--only tests/system/test_x.py ...]

About 40 min on this machine (the validation alone is 12). Writes benchmarks/results/cpu_by_test_file.json.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def items(only: list[str]) -> list[str]:
    return only or ["tests/unit"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "system").glob("test_*.py"))


def measure(item: str) -> dict:
    """One pytest run of `item`, with CI's options but one worker; its tree's CPU from the children's rusage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "3000", item],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "item": item,
        "user_s": round(after.ru_utime - before.ru_utime, 1),
        "system_s": round(after.ru_stime - before.ru_stime, 1),
        "wall_s": round(wall, 1),
        "exit": done.returncode,
        "summary": (done.stdout.strip().splitlines() or [""])[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="test files or folders (default: CI's)")
    rows = []
    for item in items(parser.parse_args().only):
        row = measure(item)
        rows.append(row)
        print(f"{row['user_s'] + row['system_s']:8.1f} CPU-s {row['wall_s']:7.1f} s wall  {item}  ({row['summary']})")
    total = sum(r["user_s"] + r["system_s"] for r in rows)
    print(f"{total:8.1f} CPU-s in all; the largest:")
    for row in sorted(rows, key=lambda r: -(r["user_s"] + r["system_s"]))[:5]:
        cpu = row["user_s"] + row["system_s"]
        print(f"  {cpu:8.1f} CPU-s  {100 * cpu / total:4.1f} %  {row['item']}")
    out = ROOT / "benchmarks" / "results" / "cpu_by_test_file.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "total_cpu_s": round(total, 1)}, indent=1))


if __name__ == "__main__":
    main()
