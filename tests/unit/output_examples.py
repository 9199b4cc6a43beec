"""Outputs a lab might register (hil.outputs), run by tests/unit/test_run_record.py in their own process."""

import os
import time
from pathlib import Path


def broken(run_dir: Path, record) -> Path:
    raise SystemExit("database unreachable")


def hung(run_dir: Path, record) -> Path:
    (run_dir.parent / "hung.pid").write_text(str(os.getpid()))
    time.sleep(120)
    (run_dir / "late.txt").write_text("written after its time\n")
    return run_dir / "late.txt"


def chatty(run_dir: Path, record) -> Path:
    print("uploading", len(record.tests), "tests")  # its own prints are not its answer
    (run_dir / "summary.txt").write_text(f"{record.run_id}: {len(record.tests)} tests\n")
    return run_dir / "summary.txt"


def editor(run_dir: Path, record) -> None:
    (run_dir / "record.json").write_text((run_dir / "record.json").read_text().replace("PASS", "FAIL", 1))
