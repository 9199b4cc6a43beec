"""The false-PASS inputs of issue 11, run through `hil` as a user would: each used to turn the FAIL of the
stroke-volume defect rig on DA-BOLUS-002 into PASS (or switch the fitness check off). Each must now stop
`hil verify` before pytest starts, with exit 1 and one located `file:line: at 'key' ...` line."""

import re
import shutil
import subprocess

import pytest

from tests.system.conftest import HIL, ROOT

# DA-BOLUS-002's mean bound with its claims' figures written in, as a spec author may write a bound of their own
CLAIMED = '{metric: bolus_mean_error, unit: "%", min: {claim: bolus_mean_error_min_pct}, max: {claim: bolus_mean_error_max_pct},'
BOUND = '{metric: bolus_mean_error, unit: "%", min: -5, max: 5, origin: judgement,'
DEFECT = ROOT / "fixtures" / "rigs" / "defects" / "stroke-volume-plus-8pct.yaml"
LOCATED = re.compile(r"^(?P<file>\S+\.yaml):(?P<line>\d+): at '(?P<key>[^']+)' \S")


def _hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HIL, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _specs(tmp_path, old: str = "", new: str = ""):
    specs = tmp_path / "specs"
    specs.mkdir()
    text = (ROOT / "specs" / "dose-accuracy.yaml").read_text().replace(CLAIMED, BOUND, 1)
    assert old in text
    (specs / "dose-accuracy.yaml").write_text(text.replace(old, new, 1))
    return specs


def _defect_rig(tmp_path, extra: str = ""):
    """A copy of the defect rig beside a copy of its parent, so `extends: ../emulator.yaml` resolves."""
    (tmp_path / "rigs" / "defects").mkdir(parents=True)
    shutil.copy(ROOT / "fixtures" / "rigs" / "emulator.yaml", tmp_path / "rigs" / "emulator.yaml")
    rig = tmp_path / "rigs" / "defects" / DEFECT.name
    rig.write_text(DEFECT.read_text() + extra)
    return rig


def _one_located_line(done: subprocess.CompletedProcess, file, key: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "PASS" not in output and "passed" not in output
    located = [m for m in map(LOCATED.match, output.splitlines()) if m]
    assert len(located) == 1, output
    assert located[0]["file"] == str(file) and located[0]["key"].endswith(key), output
    assert 1 <= int(located[0]["line"]) <= len(file.read_text().splitlines())


@pytest.mark.parametrize("new, key", [
    (BOUND.replace("max: 5", "max: .nan"), "acceptance.0.max"),
    (BOUND.replace("max: 5,", "max: 5, max: 50,"), "acceptance.0.max"),
])
def test_a_bad_bound_stops_verify_with_one_located_line(tmp_path, new, key):
    specs = _specs(tmp_path, BOUND, new)
    done = _hil("verify", "--rig", str(DEFECT), "--specs", str(specs), "-k", "DA-BOLUS-002")
    _one_located_line(done, specs / "dose-accuracy.yaml", key)


def test_min_tur_nan_stops_verify(tmp_path):
    specs = _specs(tmp_path, "min_tur: 4", "min_tur: .nan")
    done = _hil("verify", "--rig", str(DEFECT), "--specs", str(specs), "-k", "DA-BOLUS-002")
    _one_located_line(done, specs / "dose-accuracy.yaml", "min_tur")


@pytest.mark.parametrize("extra, key", [
    ("scale: {readability_mg: .nan}\n", "scale.readability_mg"),
    ("evaporation_correction: {u_rate_mg_per_h: .nan}\n", "evaporation_correction.u_rate_mg_per_h"),
])
def test_a_nan_rig_figure_stops_verify_with_one_located_line(tmp_path, extra, key):
    rig = _defect_rig(tmp_path, extra)
    done = _hil("verify", "--rig", str(rig), "--specs", str(ROOT / "specs"), "-k", "DA-BOLUS-002")
    _one_located_line(done, rig, key)


def test_a_bad_parent_rig_is_named_by_verify(tmp_path):
    rig = _defect_rig(tmp_path)
    parent = tmp_path / "rigs" / "emulator.yaml"
    parent.write_text(parent.read_text().replace('"@emulator:pump"', '"@emulator:nope"'))
    done = _hil("verify", "--rig", str(rig), "-k", "DA-BOLUS-002")
    _one_located_line(done, parent, "pump.port")


@pytest.mark.parametrize("old, new, key", [
    ("        sample_interval_s: 60\n", "", "requirements.0.cases.0"),
    ("min_tur: 4", "min_tur: .inf", "min_tur"),
    (BOUND, BOUND.replace("min: -5", "min: -1.0e+300"), "acceptance.0.min"),
])
def test_specs_check_names_a_mutant_at_its_line(tmp_path, old, new, key):
    specs = _specs(tmp_path, old, new)
    _one_located_line(_hil("specs", "check", str(specs)), specs / "dose-accuracy.yaml", key)


def test_a_missing_day_scenario_stops_verify_before_anything_runs(tmp_path):
    """A requirement naming a day scenario that does not exist: `hil verify` stops at collection, before the first
    test (the virtual-patient days would otherwise error only when their test starts, hours into a bench campaign)."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    text = (specs / "automated-delivery.yaml").read_text()
    (specs / "automated-delivery.yaml").write_text(text.replace("day_scenarios: [mixed-day]", "day_scenarios: [holiday]", 1))
    done = _hil("verify", "--specs", str(specs), "-k", "AID-CAP-001", "--no-report")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "AID-EFFECT-001 day_scenarios 'holiday': fixtures/scenarios/days/holiday.yaml: no such day scenario" in output
    assert "Traceback" not in output and "passed" not in output and "PASS" not in output
