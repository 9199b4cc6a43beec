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
from hil.procedures.time_of_day import RECORDING_COLUMNS, clock_change, clock_put_back, schedule_of


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
    with evidence.recording("clock change", RECORDING_COLUMNS) as raw, clock_put_back(rig):
        run = clock_change(rig, case, raw)
    assert run.hour is not None and run.after is not None
    spans = {
        "basal_error_before_clock_change": run.followed,
        "basal_error_after_clock_change": (run.before, run.hour),
        "basal_error_6h_after_clock_change": (run.before, run.after),
    }
    lines = ["programme: " + ", ".join(f"from {start} {rate:g} U/h" for start, rate in case.schedule.items())]
    lines.append(
        f"the pump's clock set to {case.clock_set_to} answered {_clock(run.set_time_of_day_s)}; at "
        f"{_clock(run.old_time_of_day_s)} set to {case.change_to}, it answered {_clock(run.new_time_of_day_s)} (rig "
        f"time {run.changed_s:.0f} s)"
    )
    lines += [run.paused] if run.paused else []
    metrics = {}
    for name, (first, last) in spans.items():
        weighed, U = grav.weighed(first.t, first.mass_mg, last.t, last.mass_mg)
        programme_U = run.programme_U(schedule, first.t, last.t)
        kept_U = schedule.insulin_U(run.time_of_day_s(first.t), last.t - first.t)  # had the clock not changed
        metrics[name] = Metric((weighed - programme_U) / programme_U * 100.0, "%", U / programme_U * 100.0)
        lines.append(
            f"{name}: rig time {first.t:.0f}-{last.t:.0f} s weighed {weighed:.3f} ± {U:.3f} U; the programme at the "
            f"pump's time of day {programme_U:.3f} U" + ("" if last.t <= run.changed_s else f" (on the old clock "
            f"{kept_U:.3f} U)") + f"; the pump recorded {last.recorded_U - first.recorded_U:.3f} U"
        )
    evidence.attach_text("the clock change", "\n".join(lines))
    t = np.array([run.before.t, *run.t_s, run.after.t])
    evidence.attach_figure(
        "weighed around the clock change",
        plots.weighed_timeline_figure,
        t,
        grav.cumulative_units(t, np.array([run.before.mass_mg, *run.mass_mg, run.after.mass_mg])),
        [run.programme_U(schedule, run.before.t, ti) for ti in t],
        "the programme at the pump's time of day",
        {f"clock set from {case.change_at} to {case.change_to}": run.changed_s},
        f"{requirement.id}: the clock set from {case.change_at} to {case.change_to}",
    )
    metrics["record_disagreement"] = dose_metrics.spans_record_disagreement(
        [delivery.record_span(grav, run.followed[0], run.after, run.programme_U(schedule, run.followed[0].t, run.after.t))]
    )
    evidence.judge(requirement, metrics)
    evidence.assert_pass()
