"""The bench path rehearsed (issue 13 item 1): a subset of the campaign (a bolus series, an occlusion at 1 U/h, a
suspend scenario, a kinked cannula) against the emulator running free at 300x real time, reached as a bench is
(RealClock, wall-clock deadlines, events arriving while the harness sleeps), gets the lockstep run's verdicts,
and its evidence says REHEARSAL everywhere it can be read. A free-running pump whose events nobody reads for hours
neither blocks nor loses them silently."""

import json
import subprocess
import time

import pytest

from hil.drivers.contracts import Alarm, AlarmKind
from hil.emulation.wire_faults import WireFaultKind
from hil.errors import LostEvent
from hil.rig.config import load_rig
from hil.rig.rig import Rig

from .conftest import HIL, ROOT, event_folder

SUBSET = ("DA-BOLUS-001", "OC-ALARM-001", "HS-SBL-001", "IF-KINK-001")
RIGS = ROOT / "fixtures" / "rigs"


def _verify(rig: str, *options: str) -> tuple[dict, float, str]:
    started = time.monotonic()
    done = subprocess.run([HIL, "--json", "verify", "--rig", str(RIGS / rig), "-k", " or ".join(SUBSET), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    wall_s = time.monotonic() - started
    run_dir = event_folder(done.stdout)
    assert run_dir, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((run_dir / "record.json").read_text()), wall_s, done.stderr


def test_a_rehearsal_gets_the_lockstep_verdicts_and_is_marked_rehearsal():
    lockstep, lockstep_s, _ = _verify("emulator.yaml", "--no-report", "--no-figures")  # its verdicts only
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


UNREAD_HOURS = 4.0


def _fast_rehearsal(tmp_path):
    rig = tmp_path / "fast.yaml"  # 3000x: four hours of rig time in under five wall seconds
    rig.write_text(f"extends: {RIGS / 'emulator-rehearsal.yaml'}\nrig_id: fast-rehearsal\nemulator: {{speed: 3000}}\n")
    return Rig(load_rig(rig))


def _occlusion_nobody_reads(rig, lose_lines: bool = False) -> float:
    """Basal into a closed valve, then hours of rig time without a word to the pump (with lose_lines, every
    line the pump sends meanwhile is dropped on the wire); returns when the sleep ended, on the rig clock."""
    rig.begin_test("events nobody reads")  # a RESET: it also disarms earlier wire faults
    rig.pump.set_basal(10.0)
    rig.pump.resume()
    rig.occlusion_valve.close()
    if lose_lines:
        rig.control.wire_fault("pump", WireFaultKind.DROP, span_s=UNREAD_HOURS * 3600.0)
    rig.clock.sleep(UNREAD_HOURS * 3600.0)
    return rig.clock.now()


def test_events_nobody_reads_for_hours_are_kept_with_their_own_times(tmp_path):
    with _fast_rehearsal(tmp_path) as rig:
        woke = _occlusion_nobody_reads(rig)
        # The emulator never waited for the harness: its time ran on while nothing was read.
        assert abs(rig.control.now() - rig.clock.now()) < 0.2 * rig.clock.speed
        offset = rig.pump.pump_time() - rig.clock.now()  # pump clock minus rig clock
        events = rig.pump.events()
        (alarm,) = [e for e in events if isinstance(e, Alarm) and e.kind is AlarmKind.OCCLUSION]
        raised = alarm.raised_s - offset  # on the rig clock
        assert raised < woke - 3600.0, (raised, woke)  # hours before it was read, with the time it happened
        assert rig.pump.status().active_alarms  # and nothing lost on the way


def test_an_event_lost_while_nobody_reads_is_a_rig_fault_at_the_next_word(tmp_path):
    with _fast_rehearsal(tmp_path) as rig:
        _occlusion_nobody_reads(rig, lose_lines=True)
        with pytest.raises(LostEvent):
            rig.pump.status()  # the alarm is active but its event never came: never silently
