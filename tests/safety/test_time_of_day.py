"""Time-of-day suite: the pump's clock changed under a basal programme by time of day, what reaches the balance over
the hour after weighed against what the programme gives at the new time; the programme, the times and the bounds come
from specs/time-of-day.yaml."""

import numpy as np
import pytest

from hil.analysis import dose_metrics
from hil.analysis.metric import Metric
from hil.drivers.contracts import DAY_S, Capability
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.time_of_day import RECORDING_COLUMNS, clock_change, schedule_of


def _clock(seconds: float) -> str:
    seconds = round(seconds) % DAY_S
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@pytest.mark.requirements("TOD-FORWARD-001", "TOD-FORWARD-002", "TOD-BACK-001", "TOD-BACK-002")
@pytest.mark.needs(Capability.BASAL_SCHEDULE)
def test_a_clock_change_delivers_the_programme_at_the_new_time(rig, requirement, evidence):
    case = requirement.case
    grav = Gravimetry(rig.config)
    schedule = schedule_of(case)
    delivery.prepare(rig)
    with evidence.recording("clock change", RECORDING_COLUMNS) as raw:
        run = clock_change(rig, case, raw)
    assert run.after is not None
    weighed, U = grav.weighed(run.before.t, run.before.mass_mg, run.after.t, run.after.mass_mg)
    programme_U = run.programme_to_U(schedule, run.after.t)
    old_clock_U = schedule.insulin_U(run.before_time_of_day_s, run.after.t - run.before.t)

    evidence.attach_text(
        "the clock change",
        "\n".join(
            [
                "programme: " + ", ".join(f"from {start} {rate:g} U/h" for start, rate in case.schedule.items()),
                f"the pump's clock read {_clock(run.old_time_of_day_s)} and was set to {case.change_to}; it answered "
                f"{_clock(run.new_time_of_day_s)} (rig time {run.changed_s:.0f} s)",
                *([run.paused] if run.paused else []),
                f"weighed from rig time {run.before.t:.0f} s to {run.after.t:.0f} s: {weighed:.3f} ± {U:.3f} U",
                f"the programme at the pump's time of day: {programme_U:.3f} U (had the clock not been changed: "
                f"{old_clock_U:.3f} U); the pump recorded {run.after.recorded_U - run.before.recorded_U:.3f} U",
            ]
        ),
    )
    t = np.array([run.before.t, *run.t_s, run.after.t])
    evidence.attach_figure(
        "weighed around the clock change",
        plots.weighed_timeline_figure,
        t,
        grav.cumulative_units(t, np.array([run.before.mass_mg, *run.mass_mg, run.after.mass_mg])),
        [run.programme_to_U(schedule, ti) for ti in t],
        "the programme at the pump's time of day",
        {f"clock set from {case.change_at} to {case.change_to}": run.changed_s},
        f"{requirement.id}: the clock set from {case.change_at} to {case.change_to}",
    )
    metrics = {
        "basal_error_after_clock_change": Metric(
            (weighed - programme_U) / programme_U * 100.0, "%", U / programme_U * 100.0
        ),
        "record_disagreement": dose_metrics.spans_record_disagreement(
            [delivery.record_span(grav, run.before, run.after, programme_U)]
        ),
    }
    evidence.judge(requirement, metrics)
    evidence.assert_pass()
