"""Over-infusion suite: a single fault injected through the pump maker's verification build, what reaches the balance
weighed against what was commanded, and the pump's alarm; the fault, the rate and the times come from
specs/over-infusion.yaml."""

import numpy as np
import pytest

from hil.analysis import dose_metrics
from hil.analysis.metric import Metric
from hil.drivers.contracts import Capability, Priority
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.over_infusion import RECORDING_COLUMNS, closing_span, runaway_episode, stopped_s


@pytest.mark.requirements("OI-RUNAWAY-001")
@pytest.mark.needs(Capability.FAULT_INJECTION)
def test_a_runaway_motor_is_stopped(rig, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    delivery.prepare(rig)
    with evidence.recording("runaway", RECORDING_COLUMNS) as raw:
        run = runaway_episode(
            rig,
            case.basal_rate_U_per_h,
            case.flow_h * 3600.0,
            case.observe_min * 60.0,
            case.closing_bolus_U,
            case.poll_s,
            raw,
        )
    assert run.first is not None and run.after is not None and run.end is not None
    weighed, U = grav.weighed(run.first.t, run.first.mass_mg, run.after.t, run.after.mass_mg)
    commanded = case.basal_rate_U_per_h * max(0.0, stopped_s(run) - run.first.t) / 3600.0
    closing, U_closing = grav.weighed(run.after.t, run.after.mass_mg, run.end.t, run.end.mass_mg)
    evidence.attach_text(
        "the pump's alarms",
        "\n".join(
            [f"runaway motor injected at rig time {run.injected_s:.0f} s"]
            + [
                f"{s.event.kind} ({s.event.priority}) raised at pump time {s.event.raised_s:.1f} s, seen at rig time "
                f"{s.seen_s:.0f} s"
                for s in run.alarms
            ]
            + ([] if run.alarms else ["no alarm came"])
        ),
    )
    t = np.array([run.first.t, *run.t_s])
    evidence.attach_figure(
        "weighed after the fault",
        plots.weighed_timeline_figure,
        t,
        grav.cumulative_units(t, np.array([run.first.mass_mg, *run.mass_mg])),
        case.basal_rate_U_per_h * (np.minimum(t, stopped_s(run)) - t[0]) / 3600.0,
        "the basal commanded, until the pump stopped",
        {"fault injected": run.injected_s, **({"alarm seen": stopped_s(run)} if run.alarms else {})},
        f"{requirement.id}: a runaway motor injected during {case.basal_rate_U_per_h:g} U/h",
    )
    high = any(s.event.priority is Priority.HIGH for s in run.alarms)
    evidence.judge(
        requirement,
        {
            "over_infusion_after_fault": Metric(weighed - commanded, "U", U),
            "alarm_priority_high": Metric(float(high), "bool", 0.0),
            "closing_bolus_delivered": Metric(closing, "U", U_closing),
            "record_disagreement": dose_metrics.spans_record_disagreement(
                [closing_span(grav, run, case.closing_bolus_U)]
            ),
        },
    )
    evidence.assert_pass()
