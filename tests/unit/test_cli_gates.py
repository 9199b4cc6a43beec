"""`hil` refusing what it cannot do: an unknown trace format; a verify session that ran no test."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HIL = str(Path(sys.executable).parent / "hil")


def _hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HIL, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_an_unknown_trace_format_is_a_one_line_usage_error():
    done = _hil("trace", "--format", "bogus")
    assert done.returncode == 2
    assert done.stderr.strip() == "hil trace: --format must be one of table, csv, json, not 'bogus'"


def test_a_verify_that_runs_no_test_seals_nothing_and_leaves_latest_alone():
    latest = ROOT / "reports" / "latest"
    before = latest.resolve() if latest.exists() else None
    done = _hil("verify", "-k", "NO-SUCH-REQUIREMENT")
    assert done.returncode == 5, done.stdout[-2000:] + done.stderr[-2000:]
    run_id = done.stdout.split(":", 1)[0].removeprefix("run ")
    assert "hil: no test ran (no test selected): nothing sealed" in done.stderr
    assert not (ROOT / "reports" / "runs" / run_id).exists()
    assert (latest.resolve() if latest.exists() else None) == before
