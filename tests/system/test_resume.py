"""`hil verify --resume RUN`: a campaign interrupted in its second test is resumed to a complete, sealed run with
the verdicts of an uninterrupted one; the finished test keeps its evidence, the interrupted one keeps its attempt
and runs again, the record lists both sessions. A run that ended complete, or another rig, is refused."""

import json
import os
import re
import signal
import subprocess

from .conftest import HIL, ROOT, event_folder, open_report, start_hil, wait_for

SELECTION = "DA-BASAL-001 or DA-BASAL-002 or DA-BOLUS-004"  # run in this order; interrupted in DA-BASAL-002
ROWS_BEFORE_SIGNAL = 200


def _interrupted_run():
    running = start_hil("verify", "-k", SELECTION, start_new_session=True)
    proc, run_dir = running.proc, running.run_dir
    csv = wait_for(lambda: next(run_dir.glob("tests/*DA-BASAL-002/balance.csv"), None), 120, "DA-BASAL-002 to record")
    wait_for(lambda: csv.read_text().count("\n") > ROWS_BEFORE_SIGNAL, 60, f"{ROWS_BEFORE_SIGNAL} samples")
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C
    output = running.finish(300)
    assert proc.returncode == 130, output[-3000:]
    assert f"resume it: hil verify --resume {run_dir.name}" in output
    return run_dir


def _verdicts(record: dict) -> dict[str, str]:
    return {rid: test["verdict"] for test in record["tests"].values() for rid in test["requirements"]}


def _requirement(record: dict, nodeid: str) -> str:
    (rid,) = record["tests"][nodeid]["requirements"]
    return rid


def test_an_interrupted_campaign_resumes_to_the_uninterrupted_verdicts():
    whole = subprocess.run([HIL, "--json", "verify", "-k", SELECTION], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    expected = _verdicts(json.loads((event_folder(whole.stdout) / "record.json").read_text()))
    run_dir = _interrupted_run()
    before = json.loads((run_dir / "record.json").read_text())
    assert _verdicts(before) == {"DA-BASAL-001": "PASS", "DA-BASAL-002": "INTERRUPTED"}
    seen = open_report(run_dir, "--expand", "Dose accuracy")  # the interrupted session's report, as sealed
    assert f"{run_dir.name} · INTERRUPTED · EMULATED RIG: not evidence of a device" in seen["overview"]
    assert "1 INTERRUPTED, 1 NOT RUN, 1 PASS of 3" in seen["overview"]
    assert all(f"{verdict} · {rid}:" in seen["tree"] for verdict, rid in
               [("PASS", "DA-BASAL-001"), ("INTERRUPTED", "DA-BASAL-002"), ("NOT RUN", "DA-BOLUS-004")]), seen["tree"]
    finished_csv = next(run_dir.glob("tests/*DA-BASAL-001/balance.csv")).read_bytes()

    done = subprocess.run([HIL, "verify", "--resume", run_dir.name], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"resume {run_dir.name}: session 2, 2 test(s) left of 3" in done.stdout
    record = json.loads((run_dir / "record.json").read_text())
    assert _verdicts(record) == expected == {"DA-BASAL-001": "PASS", "DA-BASAL-002": "PASS", "DA-BOLUS-004": "PASS"}
    assert [s["exit_status"] for s in record["sessions"]] == [130, 0] and record["interrupted"] is None
    first, second = record["sessions"]
    assert first["interrupted"]["test"].endswith("[DA-BASAL-002]") and len(first["selected"]) == 3
    assert [_requirement(record, t) for t in first["ran"]] == ["DA-BASAL-001", "DA-BASAL-002"]  # the second cut short
    assert [_requirement(record, t) for t in second["ran"]] == ["DA-BASAL-002", "DA-BOLUS-004"] == [
        _requirement(record, t) for t in second["selected"]]
    retried = next(t for t in record["tests"].values() if t["requirements"] == ["DA-BASAL-002"])
    (attempt,) = retried["previous_attempts"]
    assert attempt["verdict"] == "INTERRUPTED" and (run_dir / "tests" / attempt["folder"] / "balance.csv").exists()
    assert next(run_dir.glob("tests/*DA-BASAL-001/balance.csv")).read_bytes() == finished_csv  # kept as it was
    checked = subprocess.run([HIL, "evidence", "verify", str(run_dir)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0 and "RESUMED (2 sessions), COMPLETE" in done.stdout, checked.stderr
    seen = open_report(run_dir, "--expand", "Dose accuracy", "--test", "^PASS · DA-BASAL-002")
    assert f"{run_dir.name} · RESUMED (2 sessions), COMPLETE · EMULATED RIG" in seen["overview"]
    assert re.search(r"session 1\n.*INTERRUPTED, sealed interrupted on ledger line \d+", seen["overview"]), seen["overview"]
    assert "3 PASS of 3" in seen["overview"] and "earlier attempt 1: INTERRUPTED" in seen["testPage"]

    again = subprocess.run([HIL, "verify", "--resume", run_dir.name], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 1 and "resume refused: " in again.stderr and "ended complete" in again.stderr


def test_a_resume_on_another_rig_or_with_changed_evidence_is_refused(tmp_path):
    run_dir = _interrupted_run()
    other = tmp_path / "other.yaml"
    other.write_text(f"extends: {ROOT / 'fixtures' / 'rigs' / 'emulator.yaml'}\nrig_id: emulator-nominal\n"
                     "emulator: {pump: {serial: EMU-0002}}\n")
    done = subprocess.run([HIL, "verify", "--resume", run_dir.name, "--rig", str(other)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "resume refused: the rig file" in done.stderr, done.stderr
    csv = next(run_dir.glob("tests/*DA-BASAL-001/balance.csv"))
    csv.write_text(csv.read_text().replace("\n", "\n ", 1))  # the finished test's evidence changed
    done = subprocess.run([HIL, "verify", "--resume", run_dir.name], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "no longer matches its interrupted seal" in done.stderr, done.stderr
    assert json.loads((run_dir / "record.json").read_text())["sessions"][-1]["exit_status"] == 130  # untouched
