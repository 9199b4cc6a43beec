"""Common-mode physics: an error in the harness's mass → volume conversion must show, not cancel.

While the emulator turned volume into balance indication with the harness's own formula
(hil.analysis.gravimetry.indication_per_microlitre), a wrong formula made the emulated balance read wrong by
exactly the factor the analysis then divided out: every dose measurement passed. The emulator now has its own
physics (hil/emulator/fluid_properties.py). These tests keep it that way.
"""

import ast
import json
import subprocess
import sys

import pytest

from tests.unit.test_plugin import ROOT, _project

# An error in the harness's conversion, present in every Python process that imports the harness's module, as an
# error in its source file would be: the harness's process and, if it still borrowed the formula, the emulator's
# (which runs in its own process, from the same tree). A sitecustomize on PYTHONPATH reaches both.
BIASED_CONVERSION = '''
import hil.analysis.gravimetry as _gravimetry

_true_indication = _gravimetry.indication_per_microlitre


def _indication_6_pct_low(temperature_c, pressure_hpa, humidity_pct):
    """Deliberately wrong: 6 % too little indication per µL, so every volume comes out 6 % too large."""
    return _true_indication(temperature_c, pressure_hpa, humidity_pct) / 1.06


_gravimetry.indication_per_microlitre = _indication_6_pct_low
'''


def test_no_emulator_module_imports_the_harness_analysis():
    for path in sorted((ROOT / "hil" / "emulator").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n == "hil.analysis" or n.startswith("hil.analysis.") for n in names), (
                f"{path.relative_to(ROOT)}:{node.lineno} imports the harness's analysis: the emulator must own "
                "its physics")


def _bolus_mean_error(pytester, monkeypatch, biased: bool) -> tuple[str, float]:
    if biased:
        inject = pytester.mkdir("inject")
        (inject / "sitecustomize.py").write_text(BIASED_CONVERSION)
        monkeypatch.setenv("PYTHONPATH", str(inject))
    else:
        monkeypatch.delenv("PYTHONPATH", raising=False)
    run_dir = pytester.path / ("run-biased" if biased else "run-nominal")
    result = pytester.runpytest_subprocess("--specs", "specs", "--rig", "rig.yaml", "--hil-run-dir", str(run_dir),
                                           "-k", "DA-BOLUS-002", "-p", "no:cacheprovider")
    (test,) = json.loads((run_dir / "record.json").read_text())["tests"].values()
    (mean,) = (m["value"] for m in test["measurements"] if m["name"] == "bolus_mean_error")
    assert result.ret in (0, 1), result.stdout.str()
    return test["verdict"], mean


def test_an_error_in_the_harness_conversion_fails_a_bolus_accuracy_test(pytester, monkeypatch):
    # DA-BOLUS-002: 25 × 1 U, mean within ±5 %, against the real emulator process of the nominal rig.
    _project(pytester, (ROOT / "tests" / "safety" / "test_dose_accuracy.py").read_text())
    nominal_verdict, nominal = _bolus_mean_error(pytester, monkeypatch, biased=False)
    assert nominal_verdict == "PASS"
    verdict, mean = _bolus_mean_error(pytester, monkeypatch, biased=True)
    # The same seed weighs the same boluses: every volume 6 % larger. Borrowing the harness's formula, the emulator
    # would read 6 % low too and the mean would stay at the nominal run's: PASS.
    assert verdict == "FAIL"
    assert mean == pytest.approx(100.0 * ((1 + nominal / 100.0) * 1.06 - 1), abs=0.05), (
        f"bolus mean error {mean:+.2f} % with a 6 % conversion error, {nominal:+.2f} % without")


def test_the_injected_error_does_reach_the_harness(tmp_path, monkeypatch):
    # The sitecustomize above is what the bolus test relies on: check it bites in a process of its own.
    (tmp_path / "sitecustomize.py").write_text(BIASED_CONVERSION)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    out = subprocess.run([sys.executable, "-c", (
        "from hil.analysis import gravimetry as g; from hil.emulator import fluid_properties as f; "
        "print(g.mass_to_volume(f.balance_indication_mg_per_uL(20, 1013.25, 50), 20, 1013.25, 50))")],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert float(out) == pytest.approx(1.06, rel=1e-5)
