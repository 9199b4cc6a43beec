"""Requirements judged across pump units (hil verify --places): the mean's uncertainty against known answers, the
`each` and `set` rules, the spec's `units:` validated, and no PASS across units that a unit does not support."""

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.analysis.across_units import mean_across_units
from hil.evidence import units
from hil.evidence.verdict import Verdict
from hil.specs import SpecError, load_requirements
from hil.specs.model import AcrossUnits, Bound, Requirement, UnitsPlan

ROOT = Path(__file__).resolve().parents[2]
DOSE = (ROOT / "specs" / "dose-accuracy.yaml").read_text()
T_95_1 = 12.706204736174705  # Student's t, 97.5th percentile, 1 degree of freedom (tables: 12.706)
T_95_2 = 4.302652729749464  # 2 degrees of freedom (tables: 4.303)


def test_the_mean_of_two_units_takes_their_spread_with_t_at_one_degree_of_freedom():
    mean = mean_across_units([1.0, 3.0], [0.0, 0.0])
    assert mean.mean == 2.0 and mean.n == 2 and mean.spread == pytest.approx(math.sqrt(2))
    assert mean.coverage_factor == pytest.approx(T_95_1)
    assert mean.expanded_u == pytest.approx(T_95_1 * 1.0)  # s/√n = √2/√2


def test_each_units_own_uncertainty_adds_to_the_mean():
    mean = mean_across_units([5.0, 5.0, 5.0], [2.0, 2.0, 2.0])  # no spread; each u = 1
    assert mean.expanded_u == pytest.approx(T_95_2 * math.sqrt(3) / 3)


@pytest.mark.parametrize("values, u", [([1.0], [0.0]), ([1.0, math.nan], [0, 0]), ([1.0, 2.0], [0.0, math.inf])])
def test_a_mean_needs_two_finite_units(values, u):
    with pytest.raises(ValueError):
        mean_across_units(values, u)


def _requirement(count: int = 2, judged: AcrossUnits = AcrossUnits.EACH) -> Requirement:
    return Requirement(
        id="DA-BOLUS-002",
        area="dose accuracy",
        title="t",
        statement="s",
        hazard="h",
        source="src",
        severity="critical",
        method="bolus-gravimetric",
        cases=({},),
        acceptance=(Bound("bolus_mean_error", "%", "src", -5.0, 5.0),),
        file=Path("specs/dose-accuracy.yaml"),
        line=1,
        units=UnitsPlan(count, judged, "the verification plan"),
    )


def _record(verdict: str | None, value: float | None = 0.0, u: float = 0.5, serial: str = "EMU-1") -> dict:
    if verdict is None:
        return {"tests": {}, "rig": {"identities": {"pump": {"serial": serial}}}}
    measurement = {"name": "bolus_mean_error", "value": value, "unit": "%", "uncertainty": u, "outcome": "PASS"}
    test = {"requirements": ["DA-BOLUS-002"], "verdict": verdict, "reason": f"{verdict} reason", "measurements": [measurement]}
    return {"tests": {"t[DA-BOLUS-002]": test}, "rig": {"identities": {"pump": {"serial": serial}}}}


@pytest.mark.parametrize(
    "verdicts, count, expected",
    [
        (["PASS", "PASS"], 2, Verdict.PASS),
        (["PASS", "PASS", "PASS"], 2, Verdict.PASS),
        (["PASS"], 2, Verdict.INCONCLUSIVE),  # one unit of the two asked
        (["PASS", "FAIL"], 2, Verdict.FAIL),
        (["FAIL"], 3, Verdict.FAIL),  # one failed unit fails the requirement, however few were run
        (["PASS", "ERROR"], 1, Verdict.INCONCLUSIVE),
        (["PASS", "INTERRUPTED"], 1, Verdict.INCONCLUSIVE),
        (["PASS", "SKIPPED"], 1, Verdict.INCONCLUSIVE),
        (["PASS", None], 1, Verdict.PASS),  # --split: the requirement ran on the other place only
        ([None, None], 1, Verdict.INCONCLUSIVE),
    ],
)
def test_each_unit_must_pass_and_enough_units_must_have_run(verdicts, count, expected):
    records = {f"bench-{i}": _record(v) for i, v in enumerate(verdicts)}
    judged = units.judge(_requirement(count), records)
    assert judged.verdict == expected, judged.reason
    if expected == Verdict.INCONCLUSIVE and verdicts.count("PASS") < count:
        assert f"of the {count} the requirement asks for" in judged.reason


@pytest.mark.parametrize(
    "values, u, expected",
    [
        ([0.1, 0.3, 0.2], [0.5, 0.5, 0.5], Verdict.PASS),  # mean 0.2 ± 4.3 × ~0.12
        ([6.0, 6.2, 6.1], [0.2, 0.2, 0.2], Verdict.FAIL),  # mean 6.1 ± 0.3: wholly above 5
        ([4.0, 4.9, 4.5], [0.5, 0.5, 0.5], Verdict.INCONCLUSIVE),  # mean 4.47 ± 1.2 straddles 5
        ([-3.0, 3.0, 0.0], [0.1, 0.1, 0.1], Verdict.INCONCLUSIVE),  # units far apart: the spread straddles both
    ],
)
def test_a_set_is_judged_by_its_mean_and_the_mean_s_uncertainty(values, u, expected):
    records = {f"bench-{i}": _record("PASS", v, ui) for i, (v, ui) in enumerate(zip(values, u, strict=True))}
    judged = units.judge(_requirement(3, AcrossUnits.SET), records)
    assert judged.verdict == expected, judged.reason
    (mean,) = judged.set_measurements
    assert mean.value == pytest.approx(sum(values) / 3)
    assert mean.uncertainty == pytest.approx(mean_across_units(values, u).expanded_u)
    assert "t = 4.3" in mean.name


def test_a_set_unit_without_a_value_is_no_sample_and_a_failed_one_fails_the_set():
    nan_unit = {"a": _record("PASS", 0.0), "b": _record("PASS", 0.1), "c": _record("INCONCLUSIVE", None)}
    judged = units.judge(_requirement(3, AcrossUnits.SET), nan_unit)
    assert judged.verdict == Verdict.INCONCLUSIVE and "2 units judged of the 3" in judged.reason
    failed = {"a": _record("PASS", 0.0), "b": _record("PASS", 0.1), "c": _record("FAIL", None)}
    judged = units.judge(_requirement(2, AcrossUnits.SET), failed)
    assert judged.verdict == Verdict.FAIL and "c (EMU-1)" in judged.reason
    interrupted = {"a": _record("PASS", 0.0), "b": _record("INTERRUPTED", 0.1)}
    assert units.judge(_requirement(2, AcrossUnits.SET), interrupted).verdict == Verdict.INCONCLUSIVE


VERDICTS = st.sampled_from([None, *Verdict])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(VERDICTS, st.floats(-20, 20), st.floats(0, 5)), min_size=1, max_size=6),
    st.integers(1, 6),
    st.sampled_from(AcrossUnits),
)
def test_no_pass_across_units_that_the_units_do_not_support(units_seen, count, judged):
    if judged is AcrossUnits.SET:
        count = max(count, 2)
    records = {f"u{i}": _record(v, x, u) for i, (v, x, u) in enumerate(units_seen)}
    result = units.judge(_requirement(count, judged), records)
    ran = [v for v, _, _ in units_seen if v is not None]
    if result.verdict is Verdict.PASS:
        if judged is AcrossUnits.EACH:
            assert ran and all(v is Verdict.PASS for v in ran) and len(ran) >= count
        else:
            assert sum(v in units.JUDGED for v in ran) >= count
            (mean,) = result.set_measurements
            assert -5 <= mean.value - mean.uncertainty and mean.value + mean.uncertainty <= 5
    if Verdict.FAIL in ran and judged is AcrossUnits.EACH:
        assert result.verdict is Verdict.FAIL


def test_the_table_shows_each_unit_and_the_set():
    records = {"bench-a": _record("PASS", 0.1, serial="EMU-0001"), "bench-b": _record("PASS", 0.3, serial="EMU-0002")}
    text = units.table_text([units.judge(_requirement(2, AcrossUnits.SET), records)])
    assert "DA-BOLUS-002: 2 units, the set judged by its mean: PASS" in text
    assert re.search(r"^  bench-a +EMU-0001 +PASS +0\.1 ± 0\.5 %$", text, re.M), text
    assert re.search(r"^  mean of 2 +PASS +0\.2 ± 2\.6 %: PASS$", text, re.M), text


def _spec_problems(tmp_path, text: str):
    spec = tmp_path / "dose-accuracy.yaml"
    spec.write_text(text)
    with pytest.raises(SpecError) as info:
        load_requirements([spec])
    return info.value.problems


UNITS_12 = "    units:\n      count: 12\n      judged: each\n"


def test_the_shipped_units_load_with_their_source():
    requirement = load_requirements([ROOT / "specs"])["DA-BOLUS-003"]
    assert requirement.units == UnitsPlan(12, AcrossUnits.EACH, requirement.units.source)
    assert "12 Pods" in requirement.units.source and "Units: 12 units, each unit judged" in requirement.as_text()
    assert load_requirements([ROOT / "specs"])["DA-BOLUS-002"].units == UnitsPlan()


@pytest.mark.parametrize(
    "replacement, key, message",
    [
        ("    units:\n      count: 1\n      judged: set\n", "units.judged", "needs a count of 2 units or more"),
        ("    units:\n      count: 0\n      judged: each\n", "units.count", "less than the minimum"),
        ("    units:\n      count: 3\n      judged: all\n", "units.judged", "is not one of"),
    ],
)
def test_a_units_plan_that_cannot_be_judged_is_refused_where_it_is(tmp_path, replacement, key, message):
    assert UNITS_12 in DOSE
    problems = _spec_problems(tmp_path, DOSE.replace(UNITS_12, replacement, 1))
    assert any(p.key.endswith(key) and message in p.message for p in problems), problems


def test_a_units_plan_without_its_source_is_refused(tmp_path):
    text = DOSE.replace('      source: "Omnipod 5 labelling (PCO-000267): its', '      note: "Omnipod', 1)
    problems = _spec_problems(tmp_path, text)
    assert any("units" in p.key and "source" in p.message for p in problems), problems
