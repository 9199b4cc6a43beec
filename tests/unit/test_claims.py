"""Requirements take their numbers from a pump model's claims (claims/*.yaml) or say where else each comes from."""

import math
import re
from pathlib import Path

import pytest
import yaml

from hil.specs import SpecError, load_requirements
from hil.specs.claims import ClaimsError, load_claims
from hil.specs.document import GENERATED, document
from hil.specs.model import OriginKind

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "claims" / "reference-pump.yaml"
OMNIPOD = ROOT / "claims" / "omnipod-5.yaml"
DOSE = (ROOT / "specs" / "dose-accuracy.yaml").read_text()


def _claims(tmp_path, text: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path, spec_text: str, claims: Path = REFERENCE):
    spec = tmp_path / "dose-accuracy.yaml"
    spec.write_text(spec_text)
    with pytest.raises(SpecError) as info:
        load_requirements([spec], claims)
    return info.value.problems


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def test_every_bound_names_its_origin_and_a_claim_bound_its_claims():
    for requirement in load_requirements().values():
        for bound in requirement.acceptance:
            if bound.origin is OriginKind.CLAIM:
                assert bound.claims and all(c.value is not None for c in bound.claims), (requirement.id, bound.name)
            else:
                assert bound.source, (requirement.id, bound.name)


def test_a_number_without_an_origin_is_refused_where_it_is(tmp_path):
    old = '{metric: bolus_duration_error, unit: "%", min: -10, max: 10, origin: judgement,'
    assert old in DOSE
    (problem,) = _problems(tmp_path, DOSE.replace(old, old.replace(" origin: judgement,", "")))
    assert problem.line == _line_of(DOSE, old) and problem.key.endswith("acceptance.0.min")
    assert "needs its origin" in problem.message


def test_an_origin_beside_claims_only_is_refused(tmp_path):
    old = "max: {claim: bolus_min_max_U}"
    (problem,) = _problems(tmp_path, DOSE.replace(old, old + ", origin: standard"))
    assert problem.key.endswith("origin") and "its origin is the claim" in problem.message


def test_an_unknown_claim_is_located_with_the_name_it_may_mean(tmp_path):
    old = "max: {claim: bolus_min_max_U}"
    (problem,) = _problems(tmp_path, DOSE.replace(old, "max: {claim: bolus_min_maxx_U}"))
    assert problem.line == _line_of(DOSE, old) and problem.key.endswith("acceptance.0.max")
    assert "no claim 'bolus_min_maxx_U'" in problem.message and "did you mean 'bolus_min_max_U'" in problem.message


def test_a_claim_in_another_unit_is_refused(tmp_path):
    old = "max: {claim: bolus_min_max_U}"
    (problem,) = _problems(tmp_path, DOSE.replace(old, "max: {claim: bolus_mean_error_max_pct}"))
    assert "is in '%', not 'U'" in problem.message


def test_a_claim_in_a_case_takes_the_unit_the_parameter_names(tmp_path):
    old = "basal_rate_U_per_h: {claim: basal_rate_min_U_per_h}"
    assert old in DOSE
    (problem,) = _problems(tmp_path, DOSE.replace(old, "basal_rate_U_per_h: {claim: bolus_min_U}"))
    assert problem.line == _line_of(DOSE, old) and "is in 'U', not 'U/h'" in problem.message


def test_a_claimed_figure_outside_what_its_place_can_be_is_refused_at_the_place_that_takes_it(tmp_path):
    text = REFERENCE.read_text().replace("bolus_min_max_U: {value: 0.119", "bolus_min_max_U: {value: -1")
    problems = _problems(tmp_path, DOSE, _claims(tmp_path, text))
    line = _line_of(DOSE, "{claim: bolus_min_max_U}")
    assert any("outside what 'bolus_max' can be" in p.message and p.line == line for p in problems), problems


@pytest.mark.parametrize("value", [".nan", ".inf", "'0.12'"])
def test_a_claims_file_with_a_bad_figure_is_refused_at_its_line(tmp_path, value):
    old = "basal_min_rate_1h_max_U: {value: 0.12"
    text = REFERENCE.read_text().replace(old, old.replace("0.12", value))
    claims = _claims(tmp_path, text)
    with pytest.raises(ClaimsError) as info:
        load_claims(claims)
    assert any(p.line == _line_of(text, "basal_min_rate_1h_max_U:") for p in info.value.problems), info.value.problems
    with pytest.raises(SpecError):
        load_requirements(None, claims)


def _not_claimed(text: str, name: str, why: str) -> str:
    return re.sub(rf"  {name}: \{{.*\}}", f'  {name}: {{not_claimed: "{why}"}}', text)


def test_a_claim_not_made_drops_its_bound_and_a_case_not_made_the_requirement(tmp_path):
    text = REFERENCE.read_text()
    text = _not_claimed(text, "basal_overall_error_max_pct", "no figure")
    text = _not_claimed(text, "basal_rate_max_U_per_h", "no such rate")
    requirements = load_requirements(None, _claims(tmp_path, text))
    basal = requirements["DA-BASAL-002"]
    assert basal.not_applicable is None and "overall_error" not in [b.metric for b in basal.acceptance]
    assert any("overall_error: not judged" in line and "no figure" in line for line in basal.unclaimed)
    assert requirements["DA-BASAL-003"].not_applicable == (
        "hil reference pump (emulated) does not claim basal_rate_max_U_per_h (no such rate)"
    )


def test_a_function_not_claimed_makes_its_requirements_not_applicable(tmp_path):
    text = _not_claimed(REFERENCE.read_text(), "low_glucose_suspend", "none")
    requirements = load_requirements(None, _claims(tmp_path, text))
    assert {rid for rid, r in requirements.items() if r.not_applicable} == {
        rid for rid in requirements if rid.startswith("HS-")
    }


def _numbers(requirement) -> tuple:
    return tuple((b.name, b.min, b.max) for b in requirement.acceptance), requirement.cases, requirement.not_applicable


def test_a_changed_claim_changes_exactly_the_requirements_that_take_it(tmp_path):
    base = load_requirements()
    data = yaml.safe_load(REFERENCE.read_text())
    for name, claim in data["claims"].items():
        changed = dict(data, claims=dict(data["claims"]))
        if "value" in claim:
            value = claim["value"]
            changed["claims"][name] = dict(claim, value=value * 0.9 if value else 1)
        else:
            changed["claims"][name] = {"not_claimed": "changed"}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(changed))
        after = load_requirements(None, path)
        differs = {rid for rid in base if _numbers(base[rid]) != _numbers(after[rid])}
        takers = {rid for rid, r in base.items() if name in r.claims_used}
        assert takers and differs == takers, name


def test_the_second_model_runs_the_same_requirements_with_its_own_figures():
    requirements = load_requirements(None, OMNIPOD)
    assert requirements["OC-ALARM-001"].acceptance[0].max == 330  # its 5.5-h maximum, not the reference's 3 h
    assert requirements["OC-ALARM-003"].case.bolus_U == 5
    assert requirements["OC-PRESS-001"].not_applicable and requirements["HS-SBL-001"].not_applicable
    assert not requirements["DA-BASAL-001"].not_applicable


def test_the_generated_part_of_the_docs_is_the_requirements_own():
    docs = (ROOT / "docs" / "requirements.md").read_text()
    assert docs[docs.index(GENERATED) :] == document(load_requirements()), "regenerate: see docs/requirements.md's end"


def test_every_claim_of_the_reference_pump_is_taken_by_a_requirement():
    taken = {name for r in load_requirements().values() for name in r.claims_used}
    assert set(load_claims(REFERENCE).claims) == taken


def test_claims_figures_are_finite():
    for claims in (load_claims(REFERENCE), load_claims(OMNIPOD)):
        assert all(c.value is None or math.isfinite(c.value) for c in claims.claims.values())


SPEC_HEAD = """schema_version: 1
area: Dose accuracy
record_cross_check: {min: -50, max: 100, origin: judgement, source: a gross check}
requirements:
  - id: DA-T-001
    title: t
    statement: s
    hazard: h
    source: s
    severity: critical
    method: bolus-gravimetric
    cases:
      - {bolus_U: 1.0, count: 5, settle_s: 60, band_pct: 15, max_duration_factor: 3}
    acceptance:
"""


def _spec(tmp_path, *bounds: str):
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC_HEAD + "".join(f"      - {b}\n" for b in bounds))
    return spec


def test_the_files_gross_cross_check_never_stands_in_for_a_record_bound_not_claimed(tmp_path):
    claims = _claims(tmp_path, _not_claimed(REFERENCE.read_text(), "bolus_mean_error_max_pct", "none"))
    spec = _spec(
        tmp_path,
        '{metric: record_disagreement, unit: "%", min: {claim: bolus_mean_error_min_pct}, '
        "max: {claim: bolus_mean_error_max_pct}}",
        "{metric: bolus_max, unit: U, max: 2, origin: judgement, source: x}",
    )
    (requirement,) = load_requirements([spec], claims).values()
    assert [b.metric for b in requirement.acceptance] == ["bolus_max"]
    assert requirement.unclaimed and requirement.unclaimed[0].startswith("record_disagreement: not judged")


def test_a_bound_half_claimed_half_written_is_refused(tmp_path):
    spec = _spec(tmp_path, '{metric: bolus_mean_error, unit: "%", min: {claim: bolus_mean_error_min_pct}, max: 5, '
                           "origin: judgement, source: x}")
    with pytest.raises(SpecError) as info:
        load_requirements([spec])
    assert "not one of each" in info.value.problems[0].message


@pytest.mark.parametrize("case", ["{bolus_U: 1.0, count: {claim: bolus_min_U}, settle_s: 60, band_pct: 15, max_duration_factor: 3}",
                                  "{bolus_U: [{claim: bolus_min_U}], count: 5, settle_s: 60, band_pct: 15, max_duration_factor: 3}"])
def test_a_claim_whose_unit_cannot_be_checked_is_refused(tmp_path, case):
    spec = _spec(tmp_path, "{metric: bolus_max, unit: U, max: 2, origin: judgement, source: x}")
    spec.write_text(spec.read_text().replace("{bolus_U: 1.0, count: 5, settle_s: 60, band_pct: 15, max_duration_factor: 3}", case))
    with pytest.raises(SpecError) as info:
        load_requirements([spec])
    assert any("cannot go here" in p.message for p in info.value.problems), info.value.problems


def test_a_claimed_alarm_time_longer_than_the_wait_is_refused_at_the_wait(tmp_path):
    text = re.sub(r"  occlusion_alarm_max_min_at_1U_per_h: \{value: 180,", "  occlusion_alarm_max_min_at_1U_per_h: {value: 600,",
                  REFERENCE.read_text())
    with pytest.raises(SpecError) as info:
        load_requirements([ROOT / "specs" / "occlusion.yaml"], _claims(tmp_path, text))
    (problem,) = info.value.problems
    assert problem.key.endswith("cases.0.alarm_timeout_h") and "allows up to 600 min" in problem.message


def test_a_rig_names_a_model_by_name_from_the_checkout_and_the_installed_reference():
    from hil.rig.config import load_rig

    for rigs in (ROOT / "fixtures" / "rigs", ROOT / "hil" / "reference" / "rigs"):
        assert load_rig(rigs / "emulator-omnipod-5-claims.yaml").claims.resolve() == OMNIPOD.resolve()


def test_a_resume_with_other_claims_or_requirements_is_refused(tmp_path):
    from hil.evidence import resume
    from hil.evidence.run import sha256_file

    claims = _claims(tmp_path, REFERENCE.read_text())
    spec = tmp_path / "spec.yaml"
    spec.write_text("x")
    record = {"provenance": {"spec_files": {str(spec): sha256_file(spec)}, "claims_file": {str(claims): sha256_file(claims)}}}
    resume.same_judging(record, claims)
    claims.write_text(REFERENCE.read_text().replace("value: 180", "value: 181"))
    with pytest.raises(resume.ResumeRefused, match="claims file"):
        resume.same_judging(record, claims)
    claims.write_text(REFERENCE.read_text())
    spec.write_text("y")
    with pytest.raises(resume.ResumeRefused, match="requirement file"):
        resume.same_judging(record, claims)


def test_a_skipped_declared_requirement_is_an_error_never_a_defect_caught():
    from hil.evidence.validation import observed_failures

    record = {"selected": {"n": ["OC-PRESS-001"]}, "tests": {"n": {"verdict": "SKIPPED", "failure_class": None,
                                                                   "requirements": ["OC-PRESS-001"]}}}
    failed, undecided, errored = observed_failures(record)
    assert "OC-PRESS-001" in errored and not undecided


def test_a_claims_file_extends_another_and_the_run_keeps_them_whole(tmp_path):
    micro = load_claims(ROOT / "claims" / "reference-pump-microbolus.yaml")
    reference = load_claims(REFERENCE)
    assert micro.claims["auto_no_increase_below_mg_dl"].value == 75  # its own
    assert micro.claims["bolus_min_max_U"] == reference.claims["bolus_min_max_U"]  # the reference pump's
    assert set(micro.claims) == set(reference.claims)
    kept = tmp_path / "kept.yaml"
    kept.write_bytes(micro.content)  # what a run keeps: loadable alone, the same claims
    assert load_claims(kept).claims == micro.claims
    assert not any(line.startswith(b"extends:") for line in micro.content.splitlines())


@pytest.mark.parametrize("extends, message", [("nowhere.yaml", "no claims file"), ("child.yaml", "in a cycle")])
def test_a_claims_file_extending_nothing_or_itself_is_refused_where_it_says_so(tmp_path, extends, message):
    child = tmp_path / "child.yaml"
    child.write_text(f"schema_version: 1\nextends: {extends}\ndevice: d\nlabelling: l\nclaims: {{}}\n")
    with pytest.raises(ClaimsError) as info:
        load_claims(child)
    (problem,) = info.value.problems
    assert (problem.line, problem.key) == (2, "extends") and message in problem.message


def test_an_extends_written_as_a_quoted_key_is_kept_whole_too(tmp_path):
    (tmp_path / "reference-pump.yaml").write_text(REFERENCE.read_text())
    child = tmp_path / "child.yaml"
    child.write_text('schema_version: 1\n"extends": reference-pump.yaml\ndevice: d\nlabelling: l\nclaims: {}\n')
    claims = load_claims(child)
    assert claims.claims == load_claims(REFERENCE).claims
    kept = tmp_path / "kept.yaml"
    kept.write_bytes(claims.content)
    assert load_claims(kept).claims == claims.claims
