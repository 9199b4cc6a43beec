"""Bolus-calculator suite: the calculator's advice (which delivers nothing) held against its label's equations, its
insulin on board against the pump's claimed insulin action after a weighed bolus, and the CGM value it uses against
the age the pump claims; the settings, meals, glucose values and times come from specs/bolus-calculator.yaml."""

import math

import pytest

from hil.analysis import dose_metrics
from hil.analysis.bolus_calculator import labelled_dose_U
from hil.analysis.insulin_on_board import remaining_share
from hil.analysis.metric import Metric
from hil.drivers.contracts import BolusAdvice, Capability
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures.bolus_calculator import (
    RECORDING_COLUMNS,
    WASHED_OUT_U,
    advice_after_bolus,
    cgm_advice,
    configure,
    washed_out_advice,
)
from hil.procedures.gravimetric import Gravimetry


def _equations_U(case, advice: BolusAdvice) -> float:
    """The label's unrounded dose for the insulin on board and the glucose the advice counted."""
    return labelled_dose_U(
        case.carbs_g,
        advice.glucose_mg_dl,
        advice.iob_U,
        case.carb_ratio_g_per_U,
        case.correction_factor_mg_dl_per_U,
        case.correction_target_mg_dl,
    )


def _advice_error(case, advice: BolusAdvice) -> Metric:
    """The advice less the label's unrounded dose (arithmetic on the pump's own numbers: no uncertainty; to 1e-6 U, so
    that a dose on the increment grid is not a float's error)."""
    return Metric(round(advice.total_U - _equations_U(case, advice), 6), "U", 0.0)


def _advice_text(case, advice: BolusAdvice, exact_of: str) -> str:
    return (
        f"settings: {case.carb_ratio_g_per_U:g} g/U, {case.correction_factor_mg_dl_per_U:g} mg/dL/U, target "
        f"{case.correction_target_mg_dl:g} mg/dL; asked for {case.carbs_g:g} g {exact_of}; advised "
        f"{advice.total_U:.3f} U (the equations: {_equations_U(case, advice):.3f} U), counting {advice.iob_U:.3f} U on "
        "board and " + ("no glucose" if advice.glucose_mg_dl is None else f"a glucose of {advice.glucose_mg_dl:g} mg/dL")
    )


def _rounding(requirement) -> tuple[float, float]:
    """The claimed rounding, as the requirement's bound on calculator_advice_error gives it."""
    bound = next(b for b in requirement.acceptance if b.metric == "calculator_advice_error")
    return bound.min, bound.max


def _figure(evidence, requirement, case, advices: dict[str, BolusAdvice], band: tuple[float, float]) -> None:
    evidence.attach_figure(
        "the advice against the equations",
        plots.calculator_advice_figure,
        list(advices),
        [a.total_U for a in advices.values()],
        [_equations_U(case, a) for a in advices.values()],
        band,
        f"{requirement.id}: the calculator's advice",
    )


@pytest.mark.requirements("BC-DOSE-001", "BC-DOSE-002", "BC-DOSE-003")
@pytest.mark.needs(Capability.BOLUS_CALCULATOR)
def test_the_advice_follows_the_labelled_equations(rig, requirement, evidence):
    case = requirement.case
    configure(rig, case)
    with evidence.recording("calculator", RECORDING_COLUMNS) as raw:
        advice = washed_out_advice(rig, case, raw)
    evidence.attach_text("the advice", _advice_text(case, advice, f"at {case.glucose_mg_dl:g} mg/dL entered"))
    _figure(evidence, requirement, case, {f"{case.carbs_g} g at {case.glucose_mg_dl} mg/dL": advice}, _rounding(requirement))
    evidence.judge(requirement, {"calculator_advice_error": _advice_error(case, advice)})
    assert abs(advice.iob_U) <= WASHED_OUT_U, f"{advice.iob_U} U on board after the washout"
    assert advice.glucose_mg_dl == case.glucose_mg_dl, f"the advice used {advice.glucose_mg_dl}, not the glucose entered"
    evidence.assert_pass()


@pytest.mark.requirements("BC-IOB-001", "BC-IOB-002")
@pytest.mark.needs(Capability.BOLUS_CALCULATOR)
def test_the_advice_counts_the_insulin_on_board(rig, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    configure(rig, case)
    delivery.prepare(rig)
    with evidence.recording("calculator", RECORDING_COLUMNS) as raw:
        run = advice_after_bolus(rig, case, raw)
    recorded_U = run.after.recorded_U - run.before.recorded_U
    minutes = (run.advised_s - run.middle_s) / 60.0
    expected_iob = recorded_U * float(remaining_share(minutes, case.insulin_peak_min, case.insulin_duration_min))
    evidence.attach_text(
        "the advice",
        _advice_text(case, run.advice, f"at {case.glucose_mg_dl:g} mg/dL entered, {minutes:.1f} min after the middle "
                     f"of a {recorded_U:.3f} U bolus (recorded)")
        + f"\nthe claimed insulin action ({case.insulin_peak_min:g}-min peak, {case.insulin_duration_min:g} min) leaves "
        f"{expected_iob:.3f} U of it on board",
    )
    _figure(evidence, requirement, case, {f"{case.carbs_g} g at {case.glucose_mg_dl} mg/dL, {minutes:.0f} min after "
                                          f"{recorded_U:.2f} U": run.advice}, _rounding(requirement))
    metrics = {
        "calculator_advice_error": _advice_error(case, run.advice),
        "calculator_iob_error": Metric(run.advice.iob_U - expected_iob, "U", 0.0),
        "record_disagreement": dose_metrics.spans_record_disagreement(
            [delivery.record_span(grav, run.before, run.after, case.bolus_U)]
        ),
    }
    evidence.judge(requirement, metrics)
    evidence.assert_pass()


@pytest.mark.requirements("BC-CGM-001")
@pytest.mark.needs(Capability.BOLUS_CALCULATOR, Capability.CGM_INPUT)
def test_the_advice_uses_only_a_fresh_cgm_value(rig, requirement, evidence):
    case = requirement.case
    configure(rig, case)
    with evidence.recording("calculator", RECORDING_COLUMNS) as raw:
        run = cgm_advice(rig, case, raw)
    meal_U = labelled_dose_U(case.carbs_g, None, 0.0, case.carb_ratio_g_per_U,
                             case.correction_factor_mg_dl_per_U, case.correction_target_mg_dl)

    def used(advice) -> bool:
        """A stale value used: the advice says so, or its total is not the meal's alone within the claimed rounding
        (a refusal uses nothing)."""
        if isinstance(advice, str):
            return False
        off = round(advice.total_U - meal_U, 6)
        return advice.glucose_mg_dl is not None or not case.advice_error_min_U <= off <= case.advice_error_max_U

    lines = [f"a CGM value of {case.cgm_mg_dl} mg/dL sent as taken {case.fresh_age_s:g} s ago",
             _advice_text(case, run.fresh, "with the CGM's value"),
             f"the meal alone: {meal_U:.3f} U (the pump claims it uses a value up to {case.max_age_min:g} min old)"]
    lines += [f"{asked}: " + (advice if isinstance(advice, str) else _advice_text(case, advice, "with the CGM's value"))
              for asked, advice in run.stale.items()]
    evidence.attach_text("the advice", "\n".join(lines))
    given = {"fresh": run.fresh} | {
        f"stale {k + 1}": a for k, a in enumerate(run.stale.values()) if not isinstance(a, str)
    }
    _figure(evidence, requirement, case, given, (case.advice_error_min_U, case.advice_error_max_U))
    metrics = {
        "fresh_glucose_used": Metric(float(run.fresh.glucose_mg_dl == case.cgm_mg_dl), "bool", 0.0),
        "stale_glucose_used": Metric(float(any(used(a) for a in run.stale.values())), "bool", 0.0),
    }
    assert all(math.isfinite(a.total_U) for a in given.values()), given
    evidence.judge(requirement, metrics)
    evidence.assert_pass()
