"""The pytest plugin: requirement binding and rig-broken handling, run in an isolated pytester session."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _project(pytester, test_source: str, rig_port: str = "@emulator:pump"):
    pytester.makefile(".yaml", **{"specs/area": (ROOT / "specs" / "dose-accuracy.yaml").read_text()})
    rig = (ROOT / "fixtures" / "rigs" / "emulator.yaml").read_text()
    if rig_port != "@emulator:pump":
        rig = rig.replace("clock: sim", "clock: real").replace('"@emulator:pump"', rig_port).replace(
            '"@emulator:balance"', rig_port)
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
    result.stdout.fnmatch_lines(["RIG ERROR (setup): cannot open rig: pump: cannot open /dev/ttyNOPE*",
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
    rig.write_text(rig.read_text().replace("  occlusion_valve: {driver: emulator}\n", ""))
    pytester.makefile(".yaml", **{"specs/occlusion": (ROOT / "specs" / "occlusion.yaml").read_text()})
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", "run", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*has no occlusion valve (actuators.occlusion_valve)*"])
