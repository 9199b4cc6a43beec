"""The pytest plugin: requirement binding and rig-broken handling, run in an isolated pytester session."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _project(pytester, test_source: str, rig_port: str = "@emulator:pump"):
    pytester.makefile(".yaml", **{"specs/area": (ROOT / "specs" / "dose-accuracy.yaml").read_text()})
    rig = (ROOT / "fixtures" / "rigs" / "emulator.yaml").read_text()
    if rig_port != "@emulator:pump":
        rig = rig.replace("clock: sim", f"clock: real\nclaims: {ROOT / 'claims' / 'reference-pump.yaml'}").replace(
            '"@emulator:pump"', rig_port).replace(
            '"@emulator:balance"', rig_port + "-balance").replace('"@emulator:balance-lost"', rig_port + "-lost")
    pytester.makefile(".yaml", rig=rig)
    pytester.makepyfile(test_source)


def test_a_test_naming_an_unknown_requirement_is_a_usage_error(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirement("DA-NOPE-999")
def test_x():
    pass
""")
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*tests name unknown requirement ids*", "*test_x: DA-NOPE-999*"])


def test_a_broken_rig_errors_once_then_skips_the_rest_as_broken(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirement("DA-BOLUS-001")
def test_first(rig):
    pass
@pytest.mark.requirement("DA-BOLUS-002")
def test_second(rig):
    pass
""", rig_port="/dev/ttyNOPE")
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run", "-rs")
    result.assert_outcomes(errors=1, skipped=1)
    result.stdout.fnmatch_lines(["RIG ERROR [[]rig failure[]] (setup): cannot open rig: *pump: cannot open /dev/ttyNOPE*",
                                 "*SKIPPED*rig broken: cannot open rig*/dev/ttyNOPE*"])
    assert "Traceback" not in result.stdout.str() and "raise RigError" not in result.stdout.str()


def test_a_test_needing_a_missing_actuator_is_skipped_with_the_reason(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirement("OC-PRIO-001")
def test_needs_valve(occlusion_valve):
    pass
""")
    rig = pytester.path / "rig.yaml"
    rig.write_text(rig.read_text().replace("  occlusion_valve: {driver: emulator-valve}\n", ""))
    pytester.makefile(".yaml", **{"specs/occlusion": (ROOT / "specs" / "occlusion.yaml").read_text()})
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*has no occlusion valve (actuators.occlusion_valve)*"])


def _record(pytester) -> dict:
    return json.loads((pytester.path / "run" / "record.json").read_text())


def test_a_test_that_measures_nothing_is_never_pass_anywhere(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirement("DA-BOLUS-001")
def test_returns_without_judging(evidence):
    pass
""")
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run",
                                           "--alluredir", "allure")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["hil: ERROR *test_returns_without_judging [[]test failure[]]: *no measurement for bound(s)*"])
    (test,) = _record(pytester)["tests"].values()
    assert (test["verdict"], test["outcome"], test["failure_class"]) == ("ERROR", "error", "test")
    assert "no measurement for bound(s)" in test["reason"]
    assert {when: p["outcome"] for when, p in test["phases"].items()} == {
        "setup": "passed", "call": "failed", "teardown": "passed"}
    allure_results = [json.loads(p.read_text()) for p in (pytester.path / "allure").glob("*-result.json")]
    assert allure_results, "no Allure result"
    labels = {(label["name"], label["value"]) for label in allure_results[0]["labels"]}
    assert allure_results[0]["status"] == "broken" and ("verdict", "ERROR") in labels


def test_the_record_lists_only_what_k_selected(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirement("DA-BOLUS-001")
def test_one(evidence):
    pass
@pytest.mark.requirement("DA-BOLUS-002")
def test_two(evidence):
    pass
""")
    pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run", "-k", "two")
    assert list(_record(pytester)["selected"]) == ["test_the_record_lists_only_what_k_selected.py::test_two"]


SIGNALLED = """
import os, signal
import pytest
@pytest.mark.requirement("DA-BOLUS-001")
def test_first(rig):
    pass
@pytest.mark.requirement("DA-BOLUS-002")
def test_signalled(rig):
    os.kill(os.getpid(), signal.SIGTERM)
    rig.clock.sleep(60.0)
"""


def test_a_signal_interrupts_the_test_stops_the_pump_once_and_finishes_the_record(pytester):
    _project(pytester, SIGNALLED)
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run",
                                           "--alluredir", "allure")
    assert result.ret == 143
    record = _record(pytester)
    first, second = (f"test_a_signal_interrupts_the_test_stops_the_pump_once_and_finishes_the_record.py::{name}"
                     for name in ("test_first", "test_signalled"))
    assert record["tests"][second]["verdict"] == "INTERRUPTED"
    assert record["tests"][second]["reason"] == "interrupted by SIGTERM"
    assert record["tests"][first]["verdict"] == "ERROR"  # it measured nothing
    assert record["interrupted"] == {"signal": "SIGTERM", "test": second}
    assert record["finished"] and record["exit_status"] == 143
    stops = [(a["test"], a["ok"]) for a in record["safety_actions"]]
    assert stops == [(first, True), (second, True), (None, True)]  # one per test end, one as the rig closes
    result.stdout.fnmatch_lines(["hil: INTERRUPTED *test_signalled: interrupted by SIGTERM"])
    allure_results = [json.loads(p.read_text()) for p in (pytester.path / "allure").glob("*-result.json")]
    (interrupted,) = [r for r in allure_results if r["name"].startswith("DA-BOLUS-002")]
    assert interrupted["status"] == "broken" and "INTERRUPTED by SIGTERM" in interrupted["statusDetails"]["message"]
    assert {"name": "verdict", "value": "INTERRUPTED"} in interrupted["labels"]


SIGNALLED_IN_TEARDOWN = """
import os, signal
import pytest
from hil.evidence.measurements import measurement

@pytest.fixture
def signal_on_teardown():
    yield
    os.kill(os.getpid(), signal.SIGTERM)  # arrives before the rig's STOP and the evidence's teardown

@pytest.mark.requirement("DA-BOLUS-001")
def test_first(evidence, rig, signal_on_teardown):
    evidence.record(measurement("weighed", 1.0, "U"))
@pytest.mark.requirement("DA-BOLUS-002")
def test_never_started(rig):
    pass
"""


def test_a_signal_during_a_teardown_lets_it_finish_and_stops_before_the_next_test(pytester):
    _project(pytester, SIGNALLED_IN_TEARDOWN)
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run")
    assert result.ret == 143
    record = _record(pytester)
    first = "test_a_signal_during_a_teardown_lets_it_finish_and_stops_before_the_next_test.py::test_first"
    test = record["tests"][first]
    assert [m["name"] for m in test["measurements"]] == ["weighed"]  # the evidence's own teardown ran
    assert test["verdict"] == "ERROR" and "no measurement for bound" in test["reason"]  # judged, not relabelled
    assert list(record["tests"]) == [first]  # the session stopped before the next test
    assert record["interrupted"] == {"signal": "SIGTERM", "test": None} and record["finished"]
    assert [(a["test"], a["ok"]) for a in record["safety_actions"]] == [(first, True), (None, True)]


LAST_REPLY_DUPLICATED = """
import pytest
from hil.emulation.wire_faults import WireFaultKind
from hil.evidence.measurements import measurement

@pytest.mark.requirement("DA-BOLUS-001")
def test_bounds_met_then_a_repeated_line(requirement, evidence, rig):
    for b in requirement.acceptance:  # every bound met: this test would PASS on a sound link
        inside = b.min if b.max is None else b.max if b.min is None else (b.min + b.max) / 2
        evidence.record(measurement(b.name, inside, b.unit, b.min, b.max, 0.0, b.source))
    rig.control.wire_fault("pump", WireFaultKind.DUPLICATE)
    rig.pump.set_basal(1.0)  # its answer arrives twice; nothing reads the pump again before the test ends
"""


def test_a_line_repeated_after_the_tests_last_pump_request_is_a_rig_error_not_a_pass(pytester):
    _project(pytester, LAST_REPLY_DUPLICATED)
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run")
    (test,) = _record(pytester)["tests"].values()
    assert (test["verdict"], test["failure_class"]) == ("ERROR", "rig"), test
    assert "arrived while waiting for" in test["reason"] and result.ret == 1


FINDING_AND_ERROR = """
import pytest
from hil.evidence.measurements import measurement

@pytest.mark.requirement("DA-BOLUS-001")
def test_over_the_limit(requirement, evidence):
    bound = requirement.acceptance[0]  # bolus_max (then the file's record cross-check)
    evidence.record(measurement(bound.name, 0.5, bound.unit, bound.min, bound.max, 0.001, bound.source))
    evidence.assert_pass()

@pytest.mark.requirement("DA-BOLUS-002")
def test_with_a_bug(evidence):
    {}["no such key"]
"""


def test_a_finding_leads_with_its_measurements_and_a_test_error_keeps_its_traceback(pytester):
    _project(pytester, FINDING_AND_ERROR)
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run")
    out = result.stdout.str()
    finding = out[out.index("_ test_over_the_limit _"):out.index("_ test_with_a_bug _")]
    assert finding.splitlines()[1:3] == [
        "FAIL [product failure] (call): 1 of 1 measurements not passed:",
        "  bolus_max = 0.5 ± 0.001 U, limits ≤ 0.119 U: FAIL"], finding
    assert "Traceback" not in finding and "def test_over_the_limit" not in finding and "Rig(" not in finding
    error = out[out.index("_ test_with_a_bug _"):]
    assert "def test_with_a_bug" in error and "KeyError" in error  # an error in the suite: pytest's traceback


def test_run_log_tells_the_run_with_wall_and_rig_time(pytester):
    _project(pytester, """
import pytest
from hil.errors import DeviceRefused

@pytest.mark.requirement("DA-BOLUS-001")
def test_commands(rig, evidence):
    rig.pump.set_basal(1.0)
    rig.clock.sleep(60.0)
    with pytest.raises(DeviceRefused):
        rig.pump.bolus(1000.0)
""")
    pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run")
    lines = (pytester.path / "run" / "run.log").read_text().splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z rig +(-|\d+\.\d{3}) s (INFO|WARNING|ERROR) +hil[.\w]*: ")
    assert all(stamp.match(line) for line in lines), lines
    text = "\n".join(lines)
    for told in ("run run: rig file rig.yaml", "test test_run_log_tells_the_run_with_wall_and_rig_time.py::test_commands: started",
                 "pump: model RP-1, serial EMU-0001", "pump BASAL 1.000: OK basal=1.000",
                 "pump BOLUS 1000.000: refused: ", "make safe (end of test_run_log", "pump acknowledged STOP",
                 "test_commands: ERROR [test failure]: MetricMissing: verdict ERROR: no measurement for bound(s)"):
        assert told in text, (told, text)
    basal = next(line for line in lines if "BASAL 1.000" in line)
    refused = next(line for line in lines if "BOLUS 1000.000" in line)
    assert float(refused.split()[2]) - float(basal.split()[2]) == 60.0  # the rig clock, not the wall's


def test_a_run_records_the_suites_it_collected_before_k_for_the_traceability_gate(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirement("DA-BOLUS-001")
def test_first():
    pass
@pytest.mark.requirement("DA-BOLUS-002")
def test_second():
    pass
def test_unbound():
    pass
""")
    pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run", "-k", "first")
    record = _record(pytester)
    module = "test_a_run_records_the_suites_it_collected_before_k_for_the_traceability_gate.py"
    assert record["selected"] == {f"{module}::test_first": ["DA-BOLUS-001"]}
    assert record["collected"] == {f"{module}::test_first": ["DA-BOLUS-001"], f"{module}::test_second": ["DA-BOLUS-002"]}


def test_a_test_marked_with_requirements_runs_once_per_requirement_bound_to_it(pytester):
    _project(pytester, """
import pytest
@pytest.mark.requirements("DA-BOLUS-001", "DA-BOLUS-002")
def test_bolus(requirement):
    assert requirement.id in ("DA-BOLUS-001", "DA-BOLUS-002")
@pytest.mark.requirements("DA-BOLUS-003")
def test_without_the_fixture():
    pass
""")
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--collect-only", "-q",
                                           "-k", "test_bolus")
    assert result.ret == 2  # the test that cannot be given its requirement fails the collection, in one line
    result.stdout.fnmatch_lines(["*::test_without_the_fixture: a test marked requirements(...) takes the 'requirement' fixture"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    (pytester.path / "test_a_test_marked_with_requirements_runs_once_per_requirement_bound_to_it.py").write_text("""
import pytest
@pytest.mark.requirements("DA-BOLUS-001", "DA-BOLUS-002")
def test_bolus(requirement):
    assert requirement.id in ("DA-BOLUS-001", "DA-BOLUS-002")
""")
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-trace", "trace.json",
                                           "--collect-only", "-q")
    module = "test_a_test_marked_with_requirements_runs_once_per_requirement_bound_to_it.py"
    assert json.loads((pytester.path / "trace.json").read_text()) == {
        f"{module}::test_bolus[DA-BOLUS-001]": ["DA-BOLUS-001"], f"{module}::test_bolus[DA-BOLUS-002]": ["DA-BOLUS-002"]}


def test_a_rig_fault_found_at_teardown_decides_the_verdict_and_keeps_the_finding_it_voids(pytester):
    """The pump's clock at half the rig's rate is found at the test's end: whatever the call found is void (a rig
    ERROR), and the reason still says what it was, for the auditor."""
    _project(pytester, """
import pytest

@pytest.mark.requirement("DA-BOLUS-001")
def test_over_the_limit(rig, evidence):
    rig.clock.sleep(600.0)
    assert False, "bolus_max = 0.5 U over its limit"
""")
    rig = (pytester.path / "rig.yaml").read_text().replace("emulator:\n  seed: 20261123",
                                                            "emulator:\n  seed: 20261123\n  pump: {clock_rate: 0.5}")
    (pytester.path / "rig.yaml").write_text(rig)
    pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run")
    (test,) = json.loads((pytester.path / "run" / "record.json").read_text())["tests"].values()
    assert (test["verdict"], test["failure_class"]) == ("ERROR", "rig"), test
    assert test["reason"].startswith("ClockMismatch: the pump's clock advanced"), test["reason"]
    assert "(it voids what the test found: bolus_max = 0.5 U over its limit" in test["reason"], test["reason"]
