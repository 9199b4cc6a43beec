"""The fail-safe abort: signals to a running `hil verify` (or plain pytest) during a long basal recording.

Started in a session of its own, like a shell's job, so a signal can go to the whole foreground process group
as a terminal's Ctrl-C does. For every way in: STOP acknowledged once per test end before any link closed,
the test INTERRUPTED, the record finished, the run sealed as interrupted, the exit status 128 + the signal,
the raw rows kept, and no process left behind.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hil.evidence import seal

from .conftest import HIL, ROOT, start_hil, wait_for

TEST = "DA-BASAL-002"
ROWS_BEFORE_SIGNAL = 200


@dataclass
class Started:
    proc: subprocess.Popen
    run_dir: Path
    emulator_pid: int
    pytest_pid: int
    csv: Path
    console: Path | None  # where hil's console went (None: pytest's output is on its stdout)


def _emulator_pid(run_dir: Path) -> int | None:
    try:
        return json.loads((run_dir / "record.json").read_text())["rig"]["identities"]["emulator"]["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parent(pid: int) -> int:
    return int(re.search(r"^PPid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _rows(csv: Path) -> int:
    return csv.read_text().count("\n")


def _start(command: list[str], run_dir: Path | None = None) -> Started:
    """command: `hil ...` (its run from its first event, its console in a file) or pytest with the run_dir it uses."""
    console = None
    if run_dir is None:
        assert command[0] == HIL
        running = start_hil(*command[1:], start_new_session=True)
        proc, run_dir, console = running.proc, running.run_dir, running.console
    else:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    emulator = wait_for(lambda: _emulator_pid(run_dir), 60, "the emulator to start")
    csv = wait_for(lambda: next(run_dir.glob("tests/*/balance.csv"), None), 60, "the recording to start")
    wait_for(lambda: _rows(csv) > ROWS_BEFORE_SIGNAL, 60, f"{ROWS_BEFORE_SIGNAL} samples")
    return Started(proc, run_dir, emulator, _parent(emulator), csv, console)


def _finish(started: Started, signals: list[tuple[str, int]]) -> tuple[int, str, int]:
    """Send the signals ('group' to the whole process group, 'hil' or 'pytest' to one process), 0.3 s apart;
    the exit status, the output, and how many raw rows were on disk before the first signal."""
    rows_before = _rows(started.csv)
    try:
        for target, signum in signals:
            if target == "group":
                os.killpg(started.proc.pid, signum)
            else:
                os.kill(started.proc.pid if target == "hil" else started.pytest_pid, signum)
            time.sleep(0.3)
        output, _ = started.proc.communicate(timeout=120)
    finally:
        if started.proc.poll() is None:
            os.killpg(started.proc.pid, signal.SIGKILL)
    return started.proc.returncode, started.console.read_text() if started.console else output, rows_before


def _assert_aborted_safely(started: Started, code: int, output: str, rows_before: int, signum: int, sealed=True):
    name = signal.Signals(signum).name
    assert code == 128 + signum, output[-3000:]
    record = json.loads((started.run_dir / "record.json").read_text())
    (nodeid, test), = record["tests"].items()
    assert TEST in nodeid
    assert (test["verdict"], test["outcome"], test["reason"]) == ("INTERRUPTED", "interrupted", f"interrupted by {name}")
    assert record["finished"] and record["exit_status"] == 128 + signum
    assert record["interrupted"] == {"signal": name, "test": nodeid}
    actions = record["safety_actions"]
    assert [a["test"] for a in actions] == [nodeid, None], actions  # one STOP at the test's end, one at rig close
    assert all(a["ok"] and "acknowledged STOP" in a["detail"] for a in actions), actions
    assert _rows(started.csv) >= rows_before > ROWS_BEFORE_SIGNAL
    assert started.csv.read_text().splitlines()[0] == "t_s,mass_mg,stable"
    if sealed:
        assert (started.run_dir / seal.MANIFEST).exists()
        entry = seal.last_entry(started.run_dir, seal.ledger.default_path(ROOT / "reports"))
        assert entry is not None and entry.fields["kind"] == "interrupted", entry
    wait_for(lambda: not (_alive(started.pytest_pid) or _alive(started.emulator_pid)), 10,
          "pytest and the emulator to exit")


@pytest.mark.parametrize("signals, signum", [
    pytest.param([("group", signal.SIGINT)], signal.SIGINT, id="ctrl-c-to-the-foreground-group"),
    pytest.param([("group", signal.SIGINT), ("group", signal.SIGINT)], signal.SIGINT, id="second-ctrl-c-in-shutdown"),
    pytest.param([("hil", signal.SIGTERM)], signal.SIGTERM, id="sigterm-to-hil"),
    pytest.param([("pytest", signal.SIGTERM)], signal.SIGTERM, id="sigterm-to-pytest"),
    pytest.param([("group", signal.SIGHUP)], signal.SIGHUP, id="sighup-hangup"),
])
def test_a_signal_to_hil_verify_stops_the_pump_and_seals_an_interrupted_run(signals, signum):
    started = _start([HIL, "verify", "-k", TEST])
    code, output, rows_before = _finish(started, signals)
    _assert_aborted_safely(started, code, output, rows_before, signum)
    assert "sealed as an interrupted run" in output


def test_ctrl_c_to_plain_pytest_stops_the_pump_and_finishes_the_record(tmp_path):
    run_dir = tmp_path / "run"
    started = _start([sys.executable, "-m", "pytest", "tests/safety", "-p", "no:cacheprovider", "-k", TEST,
                      "--rig", "fixtures/rigs/emulator.yaml", "--hil-run-dir", str(run_dir)], run_dir)
    started.pytest_pid = started.proc.pid
    code, output, rows_before = _finish(started, [("group", signal.SIGINT)])
    _assert_aborted_safely(started, code, output, rows_before, signal.SIGINT, sealed=False)
    assert "hil: INTERRUPTED" in output


def test_ctrl_c_while_hil_seals_the_run_is_ignored_and_the_run_sealed_complete():
    running = start_hil("verify", "-k", "DA-BOLUS-001", start_new_session=True)
    proc, run_dir = running.proc, running.run_dir
    try:
        pytest_pid = _parent(wait_for(lambda: _emulator_pid(run_dir), 60, "the emulator to start"))
        wait_for(lambda: not _alive(pytest_pid), 120, "pytest to exit")  # hil now builds the trace, report and seal
        os.killpg(proc.pid, signal.SIGINT)
        output = running.finish(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output[-3000:]
    assert re.search(r"hil: SIGINT ignored: (sealing the run|pytest has finished)", output) and "report:" in output
    entry = seal.last_entry(run_dir, seal.ledger.default_path(ROOT / "reports"))
    assert entry is not None and entry.fields["kind"] == "complete", entry
    checked = subprocess.run([HIL, "evidence", "verify", str(run_dir)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
