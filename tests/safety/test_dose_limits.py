"""Dose-limit suite: a dose commanded above the maximum bolus or the maximum basal rate, weighed. The requirements
bound what was delivered, so a pump that refuses the command and one that cuts the dose to its limit both pass; the
limits, the doses and the observation times come from specs/dose-limits.yaml."""

import math

import pytest

from hil.analysis import dose_metrics
from hil.analysis.metric import Metric
from hil.drivers.contracts import Capability
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures.dose_limits import RECORDING_COLUMNS, LimitRun, bolus_above_limit, rates_above_limit
from hil.procedures.gravimetric import Gravimetry


def _answers(evidence, run: LimitRun) -> None:
    """The limits set (and confirmed), what the pump answered each command above them, and what was weighed after."""
    evidence.attach_text(
        "the pump's answers",
        "\n".join(
            [
                f"limits set and confirmed: maximum bolus {run.limits.max_bolus_U:g} U, "
                f"maximum basal rate {run.limits.max_basal_U_per_h:g} U/h",
                *(
                    f"{answer.describe()}; weighed after it {w.amount_U:.3f} ± {w.U:.3f} U"
                    for answer, w in zip(run.answers, run.above, strict=True)
                ),
            ]
        ),
    )


def _bound(requirement, metric: str) -> float:
    """The requirement's upper bound on a metric, as its figure draws it."""
    return next(bound.max for bound in requirement.acceptance if bound.name == metric)


def _common(run: LimitRun) -> dict[str, Metric]:
    return {
        "commands_above_limit_accepted": Metric(float(sum(a.accepted for a in run.answers)), "count", 0.0),
        "record_disagreement": dose_metrics.spans_record_disagreement([run.record]),
    }


@pytest.mark.requirements("DL-BOLUS-001")
@pytest.mark.needs(Capability.DOSE_LIMITS)
def test_bolus_above_the_maximum_bolus(rig, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    delivery.prepare(rig)
    with evidence.recording("dose limits", RECORDING_COLUMNS) as raw:
        above_U = case.above_limit_factor * case.bolus_limit_U
        run, at_limit = bolus_above_limit(
            rig, grav, case.bolus_limit_U, above_U, case.observe_min * 60.0, case.settle_s, raw
        )
    _answers(evidence, run)
    (above,) = run.above
    evidence.attach_figure("weighed after each command", plots.dose_limit_figure,
        [run.answers[0].short, f"bolus at the maximum, {run.limits.max_bolus_U:g} U"],
        [above.amount_U, at_limit.amount_U], [above.U, at_limit.U], _bound(requirement, "delivered_after_bolus_above_limit"),
        f"{requirement.id}: weighed after a bolus above the maximum, and after one at it")
    evidence.judge(
        requirement,
        {
            "delivered_after_bolus_above_limit": Metric(above.amount_U, "U", above.U),
            "bolus_at_limit_delivered": Metric(at_limit.amount_U, "U", at_limit.U),
            **_common(run),
        },
    )
    evidence.assert_pass()


@pytest.mark.requirements("DL-BASAL-001")
@pytest.mark.needs(Capability.DOSE_LIMITS, Capability.TEMP_BASAL)
def test_rates_above_the_maximum_basal_rate(rig, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    delivery.prepare(rig)
    with evidence.recording("dose limits", RECORDING_COLUMNS) as raw:
        above_U_per_h = case.above_limit_factor * case.basal_limit_U_per_h
        run = rates_above_limit(rig, grav, case.basal_limit_U_per_h, above_U_per_h, case.observe_min * 60.0, raw)
    _answers(evidence, run)
    evidence.attach_figure("weighed after each command", plots.dose_limit_figure,
        [a.short for a in run.answers],
        [w.amount_U for w in run.above], [w.U for w in run.above], _bound(requirement, "delivered_after_rate_above_limit"),
        f"{requirement.id}: weighed in the hour after each rate above the maximum")
    most = max(run.above, key=lambda w: (math.isnan(w.amount_U), w.amount_U))  # a NaN is the one judged
    evidence.judge(
        requirement, {"delivered_after_rate_above_limit": Metric(most.amount_U, "U", most.U), **_common(run)}
    )
    evidence.assert_pass()
