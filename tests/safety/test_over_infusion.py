"""Over-infusion suite: a single fault injected through the pump maker's verification build, what reaches the balance
weighed against what was commanded, and the pump's alarm; the fault, the rate and the times come from
specs/over-infusion.yaml."""

import numpy as np
import pytest

from hil.analysis import dose_metrics
from hil.analysis.metric import Metric
from hil.drivers.contracts import Capability, Priority, alarm_lines
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.over_infusion import (
    RECORDING_COLUMNS,
    FaultNotInjected,
    closing_span,
    commanded_U,
    runaway_episode,
)


@pytest.mark.requirements("OI-RUNAWAY-001")
@pytest.mark.needs(Capability.FAULT_INJECTION)
def test_a_runaway_motor_is_stopped(rig, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    delivery.prepare(rig)
    with evidence.recording("runaway", RECORDING_COLUMNS) as raw:
        try:
            run = runaway_episode(
                rig,
                case.basal_rate_U_per_h,
                case.flow_h * 3600.0,
                case.observe_min * 60.0,
                case.closing_bolus_U,
                case.poll_s,
                raw,
            )
        except FaultNotInjected as exc:
            pytest.skip(f"{exc}: {requirement.id} is not verified on this pump")
    assert run.first is not None and run.after is not None
    weighed, U = grav.weighed(run.first.t, run.first.mass_mg, run.after.t, run.after.mass_mg)
    stopped = run.after.t if run.stopped_s is None else run.stopped_s

    evidence.attach_text(
        "the pump's alarms",
        "\n".join(
            [f"runaway motor injected at rig time {run.injected_s:.0f} s"]
            + (alarm_lines(run.alarms) or ["no alarm came after the injection"])
            + (["before the injection (not the fault's):", *alarm_lines(run.before)] if run.before else [])
            + ([f"closing bolus not delivered: {run.closing_refused}"] if run.closing_refused else [])
        ),
    )
    t = np.array([run.first.t, *run.t_s])
    evidence.attach_figure(
        "weighed after the fault",
        plots.weighed_timeline_figure,
        t,
        grav.cumulative_units(t, np.array([run.first.mass_mg, *run.mass_mg])),
        case.basal_rate_U_per_h * (np.minimum(t, stopped) - t[0]) / 3600.0,
        "the basal commanded, until the pump stopped",
        {"fault injected": run.injected_s, **({"pump seen stopped": stopped} if run.stopped_s is not None else {})},
        f"{requirement.id}: a runaway motor injected during {case.basal_rate_U_per_h:g} U/h",
    )
    high = any(s.event.priority is Priority.HIGH for s in run.alarms)
    closing = closing_span(grav, run, case.closing_bolus_U)
    metrics = {
        "over_infusion_after_fault": Metric(weighed - commanded_U(run, case.basal_rate_U_per_h), "U", U),
        "alarm_priority_high": Metric(float(high), "bool", 0.0),
        # no closing bolus, no span: the balance is not shown to see the pump after the fault (not a number)
        "record_disagreement": dose_metrics.spans_record_disagreement([closing] if closing else []),
    }
    if closing:
        metrics["closing_bolus_delivered"] = Metric(closing.weighed_U, "U", closing.U_weighed_U)
    evidence.judge(requirement, metrics)
    evidence.assert_pass()
