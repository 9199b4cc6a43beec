"""Reservoir suite: a reservoir of a stated fill fitted and run to its end at a basal rate, weighed. The low-reservoir
alert must leave the user the amount it was set to, and the empty alarm must come at HIGH priority and stop delivery;
the fills, the rate and the waits come from specs/reservoir.yaml."""

import numpy as np
import pytest

from hil.analysis import dose_metrics
from hil.analysis.metric import Metric, Metrics
from hil.drivers.contracts import AlarmKind, Capability, Priority, alarm_lines
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.reservoir import (
    RECORDING_COLUMNS,
    Drain,
    alert_set,
    available_U,
    record_span,
    reservoir_fitted,
    run_to_empty,
    weighed,
)


def _evidence(evidence, grav: Gravimetry, drain: Drain, requirement, fill_U: float, available_U: float) -> Metrics:
    """The alarms seen, the figure, and what every reservoir test reports: what the reservoir gave, and the run
    against the pump's record."""
    evidence.attach_text(
        "the pump's alarms",
        "\n".join(
            [f"reservoir fitted: {fill_U:g} U, {available_U:g} U of it after the prime and the coupling check"]
            + (alarm_lines(drain.alarms) or ["no reservoir alarm came after the basal's start"])
            + (["before the basal's start (acknowledged), or of another kind:", *alarm_lines(drain.others)] if drain.others else [])
        ),
    )
    assert drain.start is not None and drain.end is not None
    t = np.array(drain.t_s)
    marks = {f"{seen.event.kind} seen": seen.seen_s for seen in drain.alarms}
    evidence.attach_figure(
        "the reservoir run to its end",
        plots.weighed_timeline_figure,
        t,
        grav.cumulative_units(t, np.array(drain.mass_mg)),
        np.array(drain.recorded_U) - drain.recorded_U[0],
        "the pump's record",
        marks,
        f"{requirement.id}: a {fill_U:g} U reservoir run to its end",
    )
    given, U = weighed(grav, drain.start, drain.end)
    return {
        "delivered_from_reservoir": Metric(given, "U", U),
        "record_disagreement": dose_metrics.spans_record_disagreement([record_span(grav, drain, available_U)]),
    }


@pytest.mark.requirements("RES-LOW-001")
@pytest.mark.needs(Capability.RESERVOIR_ALERT)
def test_low_reservoir_alert_leaves_its_amount(rig, reservoir_change, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    available = available_U(rig, case.fill_U, case.reservoir_alert_U)
    with evidence.recording("reservoir", RECORDING_COLUMNS) as raw:
        with reservoir_fitted(rig, reservoir_change, case.fill_U), alert_set(rig, case.reservoir_alert_U) as alert_U:
            delivery.prepare(rig)
            drain = run_to_empty(
                rig,
                case.drain_rate_U_per_h,
                case.alert_timeout_h * 3600.0,
                case.alarm_timeout_h * 3600.0,
                case.hold_after_alarm_min * 60.0,
                case.poll_s,
                raw,
            )
    metrics = _evidence(evidence, grav, drain, requirement, case.fill_U, available)
    assert drain.end is not None
    if drain.at_alert is None:  # no alert: nothing was delivered after one
        metrics["delivered_after_low_reservoir_alert_pct"] = Metric(0.0, "%", 0.0)
    else:
        after, U = weighed(grav, drain.at_alert, drain.end)
        metrics["delivered_after_low_reservoir_alert"] = Metric(after, "U", U)
        metrics["delivered_after_low_reservoir_alert_pct"] = Metric(100.0 * after / alert_U, "%", 100.0 * U / alert_U)
    evidence.judge(requirement, metrics)
    evidence.assert_pass()


@pytest.mark.requirements("RES-EMPTY-001")
def test_empty_reservoir_alarms_and_stops(rig, reservoir_change, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    available = available_U(rig, case.fill_U)
    with evidence.recording("reservoir", RECORDING_COLUMNS) as raw:
        with reservoir_fitted(rig, reservoir_change, case.fill_U):
            delivery.prepare(rig)
            drain = run_to_empty(
                rig,
                case.drain_rate_U_per_h,
                None,
                case.alarm_timeout_h * 3600.0,
                case.hold_after_alarm_min * 60.0,
                case.poll_s,
                raw,
            )
    metrics = _evidence(evidence, grav, drain, requirement, case.fill_U, available)
    assert drain.at_alarm is not None and drain.end is not None
    empty = drain.first(AlarmKind.RESERVOIR_EMPTY)
    metrics["alarm_priority_high"] = Metric(float(empty is not None and empty.event.priority is Priority.HIGH), "bool", 0.0)
    after, U = weighed(grav, drain.at_alarm, drain.end)
    metrics["delivered_after_empty_alarm"] = Metric(after, "U", U)
    evidence.judge(requirement, metrics)
    evidence.assert_pass()
