"""What the suite must not trust, through `hil verify` and `hil rig check` as a user runs them. A stuck, a decoupled
and a mislabelled balance end the campaign as the rig's ERROR at the first weighed test's coupling check (the rest
skipped, the rig broken), never a product FAIL, never a PASS; a pump that records boluses it never delivers FAILs
DA-BOLUS-001, which only its per-bolus maximum bounded before the record cross-check (it was PASS), and the
occlusion and auto-mode tests whose boluses are most of their delivery (they were PASS before those areas held the
record against the balance); a pump whose clock does not keep the rig's time is the rig's ERROR, whatever the test
measured; an occlusion valve that does not close is the rig's ERROR, not the pump's missing alarm; a balance that
answers SI wrongly is `hil rig check`'s blocker, naming SI."""

import pytest

from .conftest import ROOT
from .test_preflight import _check

CASES = ROOT / "fixtures" / "rigs" / "untrusted"
SELECTION = "DA-BOLUS-001 or DA-BOLUS-002"


@pytest.mark.parametrize(
    ("rig", "diagnosis"),
    [
        ("balance-stuck", "did not change in its last digit"),
        ("balance-decoupled", "does not reach this balance's vessel"),
        ("balance-unit-mg", "1000 times too small"),
    ],
)
def test_a_balance_that_does_not_see_the_pump_is_the_rigs_error_and_nothing_is_judged(verify, rig, diagnosis):
    run = verify("--rig", str(CASES / f"{rig}.yaml"), "-k", SELECTION, "--no-report", "--no-figures")
    assert run.code == 1, run.output[-3000:]
    tests = list(run.record["tests"].values())
    first, *rest = tests
    assert (first["verdict"], first["failure_class"]) == ("ERROR", "rig"), first
    assert "BalanceNotCoupled: coupling check" in first["reason"] and diagnosis in first["reason"], first["reason"]
    assert rest and all((t["verdict"], t["failure_class"]) == ("SKIPPED", "rig") for t in rest), rest
    assert run.record["rig_broken"]


def test_an_occlusion_valve_that_does_not_close_is_the_rigs_error_never_the_pumps_missing_alarm(verify):
    """The pump rightly raises no alarm on an open line; before the block was confirmed, that was its FAIL."""
    run = verify("--rig", str(CASES / "valve-stuck-open.yaml"), "-k", "OC-ALARM-001 or OC-MISSED-001", "--no-report",
                 "--no-figures")
    assert run.code == 1, run.output[-3000:]
    first, *rest = run.record["tests"].values()
    assert (first["verdict"], first["failure_class"]) == ("ERROR", "rig"), first
    assert first["reason"].startswith("BlockNotHeld: the outlet was not blocked: the balance weighed"), first["reason"]
    assert rest and all((t["verdict"], t["failure_class"]) == ("SKIPPED", "rig") for t in rest), rest


def test_a_pump_recording_boluses_the_balance_never_weighed_fails_every_bolus_requirement(verify):
    run = verify("--rig", str(CASES / "pump-records-undelivered-boluses.yaml"), "-k", SELECTION, "--no-report", "--no-figures")
    assert run.code == 1, run.output[-3000:]
    verdicts = {t["requirements"][0]: t for t in run.record["tests"].values()}
    for rid in ("DA-BOLUS-001", "DA-BOLUS-002"):
        assert (verdicts[rid]["verdict"], verdicts[rid]["failure_class"]) == ("FAIL", "product"), verdicts[rid]
        assert "record_disagreement = -" in verdicts[rid]["reason"], verdicts[rid]["reason"]


def test_a_pump_recording_boluses_it_never_delivered_fails_outside_dose_accuracy_on_the_record_cross_check(verify):
    """The false-alarm test's 30 U quick bolus (32 U recorded, 2 U of basal weighed) and the automatic corrections
    of the falling-glucose scenario: nothing else in those tests bounds what the pump counted."""
    run = verify("--rig", str(CASES / "pump-records-undelivered-boluses.yaml"), "-k", "OC-FALSE-001 or AID-LOW-001",
                 "--no-report", "--no-figures")
    assert run.code == 1, run.output[-3000:]
    verdicts = {t["requirements"][0]: t for t in run.record["tests"].values()}
    assert set(verdicts) == {"OC-FALSE-001", "AID-LOW-001"}
    for rid, test in verdicts.items():
        assert (test["verdict"], test["failure_class"]) == ("FAIL", "product"), test
        (failed,) = (m for m in test["measurements"] if m["outcome"] == "FAIL")
        assert failed["name"] == "record_disagreement" and failed["value"] < -50, (rid, failed)


def test_preflight_blocks_a_balance_that_does_not_see_the_pump():
    code, rows, output = _check("--rig", str(CASES / "balance-decoupled.yaml"), "-k", "DA-BOLUS-001")
    assert code == 1, output
    found, status = rows["coupling: the balance sees the pump"]
    assert status == "BLOCKER" and "of a 1 U prime" in found, output


def test_preflight_weighs_the_pump_on_the_nominal_rig():
    code, rows, output = _check("--rig", str(ROOT / "fixtures" / "rigs" / "emulator.yaml"), "-k", "DA-BOLUS-001")
    assert code == 0, output
    found, status = rows["coupling: the balance sees the pump"]
    assert status == "ok" and found.startswith("weighed "), output


def test_a_pump_on_a_time_of_its_own_is_the_rigs_error_whatever_the_test_measured(verify):
    rig = CASES / "pump-clock-half-speed.yaml"
    run = verify("--rig", str(rig), "-k", "OC-ALARM-001 or DA-BOLUS-001", "--no-report", "--no-figures")
    first, *rest = run.record["tests"].values()
    assert (first["verdict"], first["failure_class"]) == ("ERROR", "rig"), first
    assert "ClockMismatch: the pump's clock advanced" in first["reason"], first["reason"]
    assert rest and all(t["verdict"] == "SKIPPED" for t in rest) and run.code == 1


def test_preflight_blocks_a_balance_that_answers_what_the_recordings_use_wrongly_naming_the_command():
    code, rows, output = _check("--rig", str(CASES / "balance-si-echo.yaml"), "-k", "DA-BASAL-003")
    assert code == 1, output
    found, status = rows["scale immediate reading"]
    assert status == "BLOCKER" and "to SI" in found, output
    assert rows["scale stable reading"][1] == "ok"  # S alone, all the old preflight tried, is answered well


@pytest.mark.parametrize(("event_wait_s", "verdict"), [(None, ("PASS", None)), (0, ("ERROR", "rig"))])
def test_a_can_pump_whose_status_frames_overtake_its_alarm_frames_gets_the_nominal_verdict(
    verify, tmp_path, event_wait_s, verdict
):
    """The alarm's frames follow the STATUS that shows it: the CAN driver's wait for frames in flight gives the
    nominal rig's PASS; without it (event_wait_s 0) the pump would be reported losing the event it sent."""
    rig = CASES / "can-events-behind-status.yaml"
    if event_wait_s is not None:
        rig = tmp_path / "no-wait.yaml"
        rig.write_text(f"extends: {CASES / 'can-events-behind-status.yaml'}\nrig_id: can-events-no-wait\n"
                       f"pump:\n  driver: reference-can\n  event_wait_s: {event_wait_s}\n")
    run = verify("--rig", str(rig), "-k", "OC-ALARM-001", "--no-report", "--no-figures")
    (test,) = run.record["tests"].values()
    assert (test["verdict"], test["failure_class"]) == verdict, test
    if event_wait_s is not None:
        assert "LostEvent" in test["reason"] and "no ALARM event announced them" in test["reason"], test["reason"]
