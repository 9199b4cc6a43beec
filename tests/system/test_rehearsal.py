"""The bench path rehearsed (issue 13 item 1): a subset of the campaign (a bolus series, an occlusion at 1 U/h, a
suspend scenario, a kinked cannula) against the emulator running free at 300x real time, reached as a bench is
(RealClock, wall-clock deadlines, events arriving while the harness sleeps), gets the lockstep run's verdicts,
and its evidence says REHEARSAL everywhere it can be read."""

import json
import re
import subprocess
import time

from .conftest import HIL, ROOT

SUBSET = ("DA-BOLUS-001", "OC-ALARM-001", "HS-SBL-001", "IF-KINK-001")
RIGS = ROOT / "fixtures" / "rigs"


def _verify(rig: str) -> tuple[dict, float, str]:
    started = time.monotonic()
    done = subprocess.run([HIL, "verify", "--rig", str(RIGS / rig), "-k", " or ".join(SUBSET)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    wall_s = time.monotonic() - started
    match = re.search(r"^run (\S+):", done.stdout, re.M)
    assert match, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = ROOT / "reports" / "runs" / match.group(1)
    return json.loads((run_dir / "record.json").read_text()), wall_s, done.stdout


def test_a_rehearsal_gets_the_lockstep_verdicts_and_is_marked_rehearsal():
    lockstep, lockstep_s, _ = _verify("emulator.yaml")
    rehearsal, rehearsal_s, output = _verify("emulator-rehearsal.yaml")
    verdicts = {run: {rid: test["verdict"] for test in record["tests"].values() for rid in test["requirements"]}
                for run, record in (("lockstep", lockstep), ("rehearsal", rehearsal))}
    assert set(verdicts["lockstep"]) == set(SUBSET) and verdicts["rehearsal"] == verdicts["lockstep"], verdicts
    rig_s = sum(test["rig_time_s"] for test in rehearsal["tests"].values())
    print(f"rehearsal: {rig_s / 3600:.1f} h of rig time in {rehearsal_s:.0f} s wall at x300 "
          f"(lockstep: {lockstep_s:.0f} s); verdicts {verdicts['rehearsal']}")
    assert rehearsal["rehearsal"]["speed"] == 300 and "not evidence" in rehearsal["rehearsal"]["note"]
    assert rehearsal["rig"]["clock"] == "rehearsal" and "rehearsal" not in lockstep
    assert "REHEARSAL" in output
    assert rig_s / 300 <= rehearsal_s  # it really ran in (scaled) real time
    report = (ROOT / "reports" / "runs" / rehearsal["run_id"] / "report" / "index.html").read_text(errors="replace")
    assert "REHEARSAL" in report
