import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil.specs import SpecError, load_requirements
from hil.specs.metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]
INVALID = ROOT / "fixtures" / "specs-invalid"


def test_shipped_specs_load_and_every_bound_cites_a_source():
    requirements = load_requirements([ROOT / "specs"])
    assert requirements
    for req in requirements.values():
        assert req.source and all(bound.source for bound in req.acceptance)
        assert all(bound.unit == METRICS[bound.metric].unit for bound in req.acceptance)


def test_every_problem_is_reported_with_file_and_line():
    with pytest.raises(SpecError) as info:
        load_requirements([INVALID])
    found = {(p.file.name, p.line, p.message.split(":")[0].split(" (")[0]) for p in info.value.problems}
    assert found == {
        ("duplicate-and-missing-unit.yaml", 12, "missing 'unit'"),
        ("duplicate-and-missing-unit.yaml", 13, "duplicate requirement id XX-DUP-001"),
        ("duplicate-and-missing-unit.yaml", 22, "unknown metric 'bolus_speed'"),
        ("duplicate-and-missing-unit.yaml", 23, "metric 'bolus_min' is in 'U', not 'mL'"),
        ("syntax-error.yaml", 5, "YAML syntax error"),
    }


def test_specs_check_command_exits_1_naming_file_and_line():
    done = subprocess.run([str(Path(sys.executable).parent / "hil"), "specs", "check", str(INVALID)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "duplicate-and-missing-unit.yaml:13: at 'id' duplicate requirement id XX-DUP-001" in done.stderr
    assert "syntax-error.yaml:5:" in done.stderr and "Traceback" not in done.stderr


def test_a_wrong_type_is_located(tmp_path):
    spec = tmp_path / "wrong-type.yaml"
    text = (INVALID / "duplicate-and-missing-unit.yaml").read_text().split("  - id: XX-DUP-001\n    title: Second")[0]
    spec.write_text(text.replace("count: 2", "count: two"))
    with pytest.raises(SpecError) as info:
        load_requirements([spec])
    (problem,) = [p for p in info.value.problems if "count" in p.key]
    assert problem.line == 10 and "'two' is not of type 'integer'" in problem.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=300), st.builds(
    lambda head, cut: head[:cut], st.just((INVALID / "duplicate-and-missing-unit.yaml").read_text()), st.integers(0, 1500))))
def test_any_file_content_gives_requirements_or_located_problems(tmp_path, text):
    spec = tmp_path / "fuzz.yaml"
    spec.write_text(text)
    try:
        load_requirements([spec])
    except SpecError as exc:
        assert exc.problems and all(p.file == spec for p in exc.problems)
