"""Rig faults during a run: the emulator process killed mid-recording ("unplugged")."""

import json
import os
import signal

from .conftest import start_hil, wait_for


def test_killing_the_emulator_mid_run_ends_with_a_rig_error_and_keeps_the_data():
    running = start_hil("verify", "-k", "DA-BASAL-002", "--no-report", "--no-figures")
    proc, run_dir = running.proc, running.run_dir
    try:

        def emulator_pid():
            try:
                record = json.loads((run_dir / "record.json").read_text())
                return record["rig"]["identities"]["emulator"]["pid"]
            except (OSError, ValueError, KeyError, TypeError):
                return None

        pid = wait_for(emulator_pid, 60, "the emulator to start")
        csv = wait_for(lambda: next(run_dir.glob("tests/*/balance.csv"), None), 60, "the recording to start")
        wait_for(lambda: csv.read_text().count("\n") > 500, 60, "500 samples")
        os.kill(pid, signal.SIGKILL)
        output = running.finish(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, output[-3000:]
    assert "RIG ERROR" in output and "link lost" in output, output[-3000:]
    rows = csv.read_text().splitlines()
    assert len(rows) > 500 and rows[0] == "t_s,mass_mg,stable"
    record = json.loads((run_dir / "record.json").read_text())
    assert record["rig_broken"]
    (test,) = record["tests"].values()
    assert test["failure_class"] == "rig" and test["outcome"] != "passed"  # a rig fault, never a product failure
    assert record["safety_actions"] and not record["safety_actions"][-1]["ok"], "a failed STOP must be on record"
