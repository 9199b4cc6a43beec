"""The suites on each kind of emulated rig, the way a user runs them: the CAN pump gives the serial pump's verdicts,
the Sartorius balance the MT-SICS balance's, and a load cell or a balance too coarse for a requirement gives
INCONCLUSIVE, never PASS."""

import json
import re

import pytest

from hil.rig.config import load_rig
from hil.specs import load_requirements

from .conftest import ROOT


def test_the_can_rig_gives_the_serial_rig_verdicts(verify):
    run = verify("--rig", str(ROOT / "fixtures" / "rigs" / "emulator-can.yaml"), "--no-report", "--no-figures")
    assert run.code == 0, run.output[-3000:]
    assert run.requirements_with("passed") == set(load_requirements([ROOT / "specs"]))
    for node, test in run.record["tests"].items():
        assert any(f.endswith("can.asc") for f in test["files"]), f"{node} has no CAN frame log"
    assert run.record["rig"]["effective_config"]["pump"]["driver"] == "reference-can"


@pytest.mark.parametrize("defect", [None, "stroke-volume-plus-8pct"])
def test_the_sartorius_balance_gives_the_mt_sics_balance_dose_accuracy_verdicts(verify, tmp_path, defect):
    """The same weighing model behind either protocol: on the nominal pump every DA requirement passes, and a pump
    delivering 8 % too much fails exactly the requirements it fails on the MT-SICS balance."""
    rig = ROOT / "fixtures" / "rigs" / "emulator-sartorius.yaml"
    expected = set()
    if defect is not None:
        seeded = load_rig(ROOT / "fixtures" / "rigs" / "defects" / f"{defect}.yaml").data
        expected = {rid for rid in seeded["seeded_defect"]["violates"] if rid.startswith("DA-")}
        rig = tmp_path / "sartorius-defect.yaml"
        rig.write_text(f"extends: {ROOT / 'fixtures' / 'rigs' / 'emulator-sartorius.yaml'}\nrig_id: sartorius-{defect}\n"
                       f"emulator:\n  defects: {json.dumps(seeded['emulator']['defects'])}\n")
    run = verify("--rig", str(rig), "-k", "DA-", "--no-report")
    dose = {rid for rid in load_requirements([ROOT / "specs"]) if rid.startswith("DA-")}
    assert run.requirements_with("failed") == expected and run.requirements_with("passed") == dose - expected, \
        run.output[-3000:]
    assert run.record["rig"]["identities"]["scale"]["model"] == "MSE225S-EMU"


def test_a_load_cell_that_cannot_resolve_a_requirement_gives_inconclusive_never_pass(verify):
    rig = ROOT / "fixtures" / "rigs" / "emulator-can-loadcell.yaml"
    run = verify("--rig", str(rig), "-k", "DA-BOLUS-001 or DA-BOLUS-002 or DA-BASAL-003", "--no-report")
    verdicts = {test["requirements"][0]: test["verdict"] for test in run.record["tests"].values()}
    # 0.5 mg load-cell noise is ±0.14 U on a weighed bolus: it cannot judge 0.05 U or ±15 % of 1 U,
    # while 1-h windows of 30 U are well resolved.
    assert verdicts == {"DA-BOLUS-001": "INCONCLUSIVE", "DA-BOLUS-002": "INCONCLUSIVE", "DA-BASAL-003": "PASS"}
    assert run.code == 1


def test_a_balance_too_coarse_gives_inconclusive_never_pass(verify):
    """A 1 mg analytical balance: the 0.05 U boluses and the 1-h basal windows are beyond it (INCONCLUSIVE, a rig
    limitation, and the fitness check names the test uncertainty ratio), 30 U/h hourly windows are not."""
    run = verify("--rig", str(ROOT / "fixtures" / "rigs" / "emulator-coarse-balance.yaml"), "-k",
                 "DA-BOLUS-001 or DA-BASAL-002 or DA-BASAL-003", "--no-report")
    tests = {test["requirements"][0]: test for test in run.record["tests"].values()}
    assert {rid: t["verdict"] for rid, t in tests.items()} == {
        "DA-BOLUS-001": "INCONCLUSIVE", "DA-BASAL-002": "INCONCLUSIVE", "DA-BASAL-003": "PASS"}
    assert tests["DA-BOLUS-001"]["failure_class"] == "rig" and run.code == 1
    assert "test uncertainty ratio" in run.output


def test_without_the_per_test_reset_the_campaign_gives_the_nominal_verdicts(verify):
    """A bench pump keeps its state between tests: each test sets its starting state through the pump's contract
    (before it did, the bolus tests weighed the basal the basal tests left running, DA-BOLUS-005 +33 %, and the
    occlusion alarm left by OC-ALARM-001 made every later occlusion test a product FAIL)."""
    run = verify("--rig", str(ROOT / "fixtures" / "rigs" / "emulator-no-reset.yaml"), "--no-report", "--no-figures")
    assert run.code == 0, run.output[-3000:]
    assert run.requirements_with("passed") == set(load_requirements([ROOT / "specs"]))
    last = list(run.record["tests"].values())[-1]
    (wire_log,) = (f for f in last["files"] if f.endswith("serial.log"))
    # the pump's count of what it delivered goes on across tests (a RESET would start it at 0; a reservoir fitted by a
    # reservoir test does not)
    first_status = re.search(r"delivered=([0-9.]+)", (run.run_dir / wire_log).read_text()).group(1)
    assert float(first_status) > 1000.0, "the last test began on a pump that had delivered nothing: it was reset"


def test_a_pump_that_cannot_be_brought_to_its_starting_state_is_the_rigs_error(verify, tmp_path):
    rig = tmp_path / "stop-refused.yaml"
    rig.write_text(f"extends: {ROOT / 'fixtures' / 'rigs' / 'emulator-no-reset.yaml'}\nrig_id: stop-refused\n"
                   "emulator:\n  defects: {stop_not_idempotent: true}\n")
    run = verify("--rig", str(rig), "-k", "DA-BOLUS-001", "--no-report", "--no-figures")
    (test,) = run.record["tests"].values()
    assert (test["verdict"], test["failure_class"]) == ("ERROR", "rig"), test
    assert "StartingStateError: pump refused STOP" in test["reason"], test["reason"]


def test_a_reservoir_too_low_for_the_test_is_the_rigs_error_before_anything_is_measured(verify, tmp_path):
    """Without a RESET the reservoir is what earlier tests left: 3 U cannot give DA-BOLUS-001's primes (2 U) and 25
    boluses of 0.05 U; the test ends before it primes, naming what the reservoir holds, what the test needs and to
    refill, instead of on the pump's RESERVOIR_EMPTY alarm."""
    rig = tmp_path / "low-reservoir.yaml"
    rig.write_text(f"extends: {ROOT / 'fixtures' / 'rigs' / 'emulator-no-reset.yaml'}\nrig_id: low-reservoir\n"
                   "emulator:\n  pump: {reservoir_U: 3}\n")
    run = verify("--rig", str(rig), "-k", "DA-BOLUS-001", "--no-report", "--no-figures")
    (test,) = run.record["tests"].values()
    assert (test["verdict"], test["failure_class"]) == ("ERROR", "rig"), test
    assert ("StartingStateError: pump: its reservoir holds 3 U, this test needs 3.25 U" in test["reason"]
            and "refill the reservoir" in test["reason"]), test["reason"]
