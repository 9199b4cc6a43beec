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
        ("non-finite-and-missing-case-key.yaml", 2, "nan is not a finite number"),
        ("non-finite-and-missing-case-key.yaml", 12, "missing 'sample_interval_s'"),
        ("non-finite-and-missing-case-key.yaml", 14, "inf is not a finite number"),
        ("non-finite-and-missing-case-key.yaml", 15, "duplicate key 'max'"),
        ("non-finite-and-missing-case-key.yaml", 16, "max -1 is outside what 'window_delivered_max' can be"),
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


# DA-BOLUS-002's mean and DA-BOLUS-001's maximum with their claims' figures written in, as a spec author may write
# a bound of their own: what the loader must refuse in a number it then checks where it is written.
CLAIMED_MEAN = '{metric: bolus_mean_error, unit: "%", min: {claim: bolus_mean_error_min_pct}, max: {claim: bolus_mean_error_max_pct},'
BOLUS_002_BOUND = '{metric: bolus_mean_error, unit: "%", min: -5, max: 5, origin: judgement,'
CLAIMED_MAX = "metric: bolus_max, unit: U, max: {claim: bolus_min_max_U}"
DOSE = (ROOT / "specs" / "dose-accuracy.yaml").read_text().replace(CLAIMED_MEAN, BOLUS_002_BOUND, 1).replace(
    CLAIMED_MAX, "metric: bolus_max, unit: U, max: 0.119, origin: judgement", 1)


def _problems(tmp_path, text: str):
    spec = tmp_path / "dose-accuracy.yaml"
    spec.write_text(text)
    with pytest.raises(SpecError) as info:
        load_requirements([spec])
    assert all(p.file == spec and (p.line is None or p.line >= 1) and p.message for p in info.value.problems)
    return info.value.problems


def _line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_a_non_finite_bound_is_refused_where_it_is(tmp_path, value):
    assert BOLUS_002_BOUND in DOSE
    text = DOSE.replace(BOLUS_002_BOUND, BOLUS_002_BOUND.replace("max: 5", f"max: {value}"))
    (problem,) = _problems(tmp_path, text)
    assert problem.line == _line_of(DOSE, BOLUS_002_BOUND) and problem.key.endswith("acceptance.0.max")
    assert "not a finite number" in problem.message


def test_a_duplicate_key_is_refused_at_the_second_key(tmp_path):
    text = DOSE.replace(BOLUS_002_BOUND, BOLUS_002_BOUND.replace("max: 5,", "max: 5, max: 50,"))
    (problem,) = _problems(tmp_path, text)
    assert problem.line == _line_of(DOSE, BOLUS_002_BOUND) and "duplicate key 'max'" in problem.message


def test_a_duplicate_block_key_is_located_at_its_own_line(tmp_path):
    text = DOSE.replace("min_tur: 4\n", "min_tur: 4\nmin_tur: 40\n")
    (problem,) = _problems(tmp_path, text)
    assert problem.line == _line_of(DOSE, "min_tur: 4") + 1 and problem.key == "min_tur"


@pytest.mark.parametrize("value", [".nan", ".inf", "0", "-1", "1e9"])
def test_min_tur_must_be_a_finite_positive_ratio(tmp_path, value):
    (problem,) = _problems(tmp_path, DOSE.replace("min_tur: 4", f"min_tur: {value}"))
    assert problem.key == "min_tur"


@pytest.mark.parametrize("old, new, message", [
    ("metric: bolus_max, unit: U, max: 0.119", "metric: bolus_max, unit: U, max: -0.119", "outside what 'bolus_max' can be"),
    ("metric: bolus_max, unit: U, max: 0.119", "metric: bolus_max, unit: U, max: 1.0e+12", "outside what 'bolus_max' can be"),
    ('min: -5, max: 5,', 'min: -500, max: 5,', "outside what 'bolus_mean_error' can be"),
    ('min: -5, max: 5,', 'min: 5, max: -5,', "min 5 is above max -5"),
])
def test_bounds_outside_what_the_metric_can_be_are_refused(tmp_path, old, new, message):
    assert old in DOSE
    (problem,) = _problems(tmp_path, DOSE.replace(old, new, 1))
    assert message in problem.message and problem.line == _line_of(DOSE, old)


@pytest.mark.parametrize("digits", [309, 401])
def test_an_integer_beyond_a_floats_range_is_a_located_line_not_a_traceback(tmp_path, digits):
    huge = "9" * digits
    for text in (DOSE.replace(BOLUS_002_BOUND, BOLUS_002_BOUND.replace("max: 5", f"max: {huge}")),
                 DOSE.replace("min_tur: 4", f"min_tur: {huge}")):
        (problem,) = _problems(tmp_path, text)
        assert f"an integer of {digits} digits is beyond any finite number" in problem.message, problem


@pytest.mark.parametrize("old, new, key, computed", [
    ("{metric: window_delivered_max, window_h: 1,", "{metric: window_delivered_max, window_h: 7,", "window_h",
     "window_h [1, 6, 12]"),
    ("{metric: trumpet_ep_max, window_min: 60,", "{metric: trumpet_ep_max, window_min: 61,", "window_min",
     "trumpet_windows_min [2, 5, 11, 19, 31, 60, 150, 330, 570, 930]"),
    ("{metric: window_share_within, window_h: 1, band_pct: 15,", "{metric: window_share_within, window_h: 1, band_pct: 10,",
     "band_pct", "band_pct [15]"),
    ("{metric: bolus_share_within, band_pct: 15,", "{metric: bolus_share_within, band_pct: 20,", "band_pct",
     "band_pct [15]"),
])
def test_a_bound_on_a_parameter_no_case_computes_is_refused(tmp_path, old, new, key, computed):
    """A bound the test could never judge (its metric is computed for the case's windows or band only) is found by
    hil specs check, not by an error after the test's rig time."""
    assert old in DOSE
    (problem,) = _problems(tmp_path, DOSE.replace(old, new, 1))
    assert problem.line == _line_of(DOSE, old) and problem.key.endswith(f".{key}")
    assert f"computes '{new.split(',')[0].split()[-1]}' for {computed} only" in problem.message, problem.message


def test_a_case_lacking_a_key_its_method_reads_is_refused(tmp_path):
    text = DOSE.replace("        sample_interval_s: 60\n", "", 1)
    assert text != DOSE
    (problem,) = _problems(tmp_path, text)
    assert problem.message == "missing 'sample_interval_s'" and problem.key == "requirements.0.cases.0"


def test_a_case_key_its_method_does_not_read_is_refused_at_itself_with_the_keys_it_reads(tmp_path):
    text = DOSE.replace("        sample_interval_s: 60\n", "        sample_interval_s: 60\n        bolus_U: 1\n", 1)
    (problem,) = _problems(tmp_path, text)
    assert problem.key == "requirements.0.cases.0.bolus_U" and problem.line == _line_of(text, "bolus_U: 1")
    assert problem.message == ("unknown key (known here: analysis_h, band_pct, basal_rate_U_per_h, sample_interval_s, "
                               "stabilisation_h, trumpet_windows_min, window_h)")


@pytest.mark.parametrize("old, new, key, meant", [
    ("    acceptance:\n", "    acceptence:\n", "requirements.0.acceptence", "acceptance"),  # required: missing too
    ("{metric: window_delivered_max, window_h: 1,", "{metirc: window_delivered_max, window_h: 1,",
     "requirements.0.acceptance.0.metirc", "metric"),
    ("        sample_interval_s: 60\n", "        sample_intervall_s: 60\n", "requirements.0.cases.0.sample_intervall_s",
     "sample_interval_s"),
])
def test_a_misspelt_required_key_is_one_line_naming_the_key_it_should_be(tmp_path, old, new, key, meant):
    assert old in DOSE
    text = DOSE.replace(old, new, 1)
    (problem,) = _problems(tmp_path, text)
    assert (problem.key, problem.line) == (key, _line_of(text, new.strip()))
    assert problem.message == f"unknown key; did you mean '{meant}', which is missing?"
    assert str(problem) == f"{tmp_path / 'dose-accuracy.yaml'}:{problem.line}: at '{key}' {problem.message}"


def test_a_misspelt_optional_key_is_told_the_key_it_should_be(tmp_path):
    text = DOSE.replace("min_tur: 4\n", "min_tru: 4\n")
    (problem,) = _problems(tmp_path, text)
    assert (problem.key, problem.line) == ("min_tru", _line_of(text, "min_tru"))
    assert problem.message == "unknown key; did you mean 'min_tur'?"


def test_a_missing_key_with_no_misspelling_near_it_stays_missing(tmp_path):
    text = DOSE.replace("    acceptance:\n", "    limits:\n", 1)
    problems = {(p.key, p.message) for p in _problems(tmp_path, text)}
    assert problems == {("requirements.0", "missing 'acceptance'"), (
        "requirements.0.limits",
        "unknown key (known here: acceptance, cases, function, hazard, id, method, severity, source, statement, title, units)")}


def test_a_file_that_does_not_exist_has_no_line_and_names_the_requirement_file_meant(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SpecError) as info:
        load_requirements([Path("specs/dose-acuracy.yaml"), Path("nope")])
    assert [str(p) for p in info.value.problems] == [
        "specs/dose-acuracy.yaml: cannot read file: No such file or directory; did you mean specs/dose-accuracy.yaml?",
        "nope: cannot read file: No such file or directory",
    ]


def test_an_empty_folder_has_no_line(tmp_path):
    with pytest.raises(SpecError) as info:
        load_requirements([tmp_path])
    assert [str(p) for p in info.value.problems] == [f"{tmp_path}: no requirement files (*.yaml) found"]


def test_a_value_yaml_cannot_build_is_refused_at_its_line(tmp_path):
    text = DOSE.replace("min_tur: 4\n", "min_tur: 4\nreviewed: 2026-02-31\n")
    (problem,) = _problems(tmp_path, text)
    assert problem.line == _line_of(text, "reviewed") and problem.message == (
        "YAML value error: day is out of range for month")


@pytest.mark.parametrize("old, new", [("count: 25", "count: 25.0"), ("count: 25", "count: .nan"), ("count: 25", "count: true"),
                                      ("bolus_U: 1.0", "bolus_U: 1.0e+300"), ("bolus_U: 1.0", "bolus_U: .inf")])
def test_case_values_are_finite_numbers_of_the_right_type_and_range(tmp_path, old, new):
    assert old in DOSE
    (problem,) = _problems(tmp_path, DOSE.replace(old, new, 1))
    assert problem.key.endswith(new.split(":")[0]) and problem.line == _line_of(DOSE, old)


def test_an_alias_bomb_fails_at_once_with_a_located_line(tmp_path):
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (problem,) = _problems(tmp_path, "\n".join(bomb) + "\n")
    assert "aliases" in problem.message and 1 < problem.line <= 10


def test_deep_nesting_gives_one_located_line(tmp_path):
    (problem,) = _problems(tmp_path, "area: x\nrequirements: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem.line == 2 and "nested deeper" in problem.message


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    (problem,) = _problems(tmp_path, DOSE + "#" * 10_000_000 + "\n")
    assert problem.line is None and "at most" in problem.message


def test_a_non_finite_number_passes_the_stock_validator_but_not_ours():
    """The reason StrictValidator exists: JSON Schema's "number" lets NaN through every bound."""
    import jsonschema

    from hil.yamlfile import StrictValidator
    schema = {"type": "number", "maximum": 5}
    assert jsonschema.Draft202012Validator(schema).is_valid(float("nan"))
    assert not StrictValidator(schema).is_valid(float("nan")) and not StrictValidator({"type": "integer"}).is_valid(25.0)
