"""A clock change under a basal programme by time of day: the programme set and shown taken, the pump's clock set
to a time before the change and the basal running; when the pump's clock shows the change's time, it is set to the
new time as its user sets it (with delivery paused, where the pump takes a time change only so, as Omnipod 5's user
must), and what reaches the balance from a settled reading before the change to one after the observation is weighed
against what the programme gives at the pump's time of day: the old time until the change, the new one after it."""

import logging
from dataclasses import dataclass, field

from hil.drivers.contracts import BasalSchedule, BasalSegment
from hil.errors import DeviceRefused, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.rig.clock import poll_until
from hil.rig.rig import Rig
from hil.specs.methods import ClockChange, minutes

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["t_s", "mass_mg", "pump_delivered_U", "pump_time_of_day_s", "phase"]
# A programme's daily total as confirmed may differ from the one sent by its rates' rounding to the protocols' 0.001 U/h
# and its own 0.001 U: this much a segment, and no more, is the same programme.
DAILY_TOTAL_PLACES_U = 0.001


def schedule_of(case: ClockChange) -> BasalSchedule:
    return BasalSchedule(tuple(BasalSegment(minutes(start), rate) for start, rate in case.schedule.items()))


@dataclass
class ClockChangeRun:
    """What a clock change recorded: the marks around it, when it came (rig time), the pump's time of day before and
    after it, and the balance polled over the observation."""

    before: Mark  # settled, right before the change
    before_time_of_day_s: float  # the pump's time of day at the `before` mark
    changed_s: float  # rig time the pump answered the change
    old_time_of_day_s: float  # the pump's time of day read right before the change
    new_time_of_day_s: float  # the time of day the pump answered the change with
    paused: str  # why the change was made with delivery paused ("" when the pump took it running)
    t_s: list[float] = field(default_factory=list)  # the polls over the observation
    mass_mg: list[float] = field(default_factory=list)
    after: Mark | None = None  # settled, after the observation

    def time_of_day_s(self, t_s: float) -> float:
        """The pump's time of day at a rig time after the `before` mark: the old clock until the change, the new one
        after it."""
        if t_s < self.changed_s:
            return self.before_time_of_day_s + (t_s - self.before.t)
        return self.new_time_of_day_s + (t_s - self.changed_s)

    def programme_to_U(self, schedule: BasalSchedule, t_s: float) -> float:
        """What the programme gives from the `before` mark to a rig time, at the pump's time of day."""
        until_change = schedule.insulin_U(self.before_time_of_day_s, min(t_s, self.changed_s) - self.before.t)
        return until_change + schedule.insulin_U(self.new_time_of_day_s, max(0.0, t_s - self.changed_s))


def _set_clock(rig: Rig, seconds: int, what: str) -> tuple[float, str]:
    """Set the pump's clock as its user does: running where the pump takes it, else paused, set and resumed. The time of
    day it then shows and why it was paused ("": it was not); StartingStateError when it shows another time."""
    paused = ""
    try:
        shown = rig.pump.set_time_of_day(seconds)
    except DeviceRefused as exc:
        paused = f"the pump refused the change with delivery running ({exc}): paused, set and resumed"
        log.info("%s: %s", what, paused)
        rig.pump.suspend()
        shown = rig.pump.set_time_of_day(seconds)
        rig.pump.resume()
    if abs(shown - seconds) > 1.0:
        raise StartingStateError(f"pump: its clock set to {seconds} s after midnight ({what}) shows {shown:.0f} s")
    return shown, paused


def clock_change(rig: Rig, case: ClockChange, raw: CsvRecording) -> ClockChangeRun:
    """From the prepared pump: the case's programme set and shown taken, the clock set to `clock_set_to` and delivery
    resumed; a settled mark just before the clock shows `change_at`, the clock then set to `change_to`; a settled mark
    `observe_min` after. The pump is stopped at the end."""
    schedule = schedule_of(case)
    daily = rig.pump.set_basal_schedule(schedule)
    if abs(daily - schedule.daily_U) > DAILY_TOTAL_PLACES_U * len(schedule.segments):
        raise StartingStateError(
            f"pump: a basal programme of {schedule.daily_U:.3f} U a day sent, {daily:.3f} U a day confirmed"
        )
    _set_clock(rig, minutes(case.clock_set_to) * 60, "the programme's start")
    set_s = rig.clock.now()
    rig.pump.resume()
    change_s = set_s + case.lead_min() * 60.0
    settle_s = rig.config.infusion_set.settle_s
    rig.clock.sleep_until(max(rig.clock.now(), change_s - settle_s - 60.0))  # room for the settled mark before it
    before = _mark(rig, raw, "before the change")
    rig.clock.sleep_until(max(rig.clock.now(), change_s))
    read_s = rig.clock.now()
    old = rig.pump.time_of_day()
    new, paused = _set_clock(rig, minutes(case.change_to) * 60, "the change")
    run = ClockChangeRun(before, old - (read_s - before.t), rig.clock.now(), old, new, paused)
    poll_until(rig.clock, lambda: _poll(rig, run, raw), run.changed_s + case.observe_min * 60.0, case.poll_s)
    run.after = _mark(rig, raw, "after the observation")
    rig.pump.stop()
    return run


def _poll(rig: Rig, run: ClockChangeRun, raw: CsvRecording) -> None:
    reading = rig.scale.read()
    delivered = rig.pump.status().delivered_U
    run.t_s.append(reading.t)
    run.mass_mg.append(reading.mass_mg)
    raw.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", f"{delivered:.3f}", "", "after the change")


def _mark(rig: Rig, raw: CsvRecording, phase: str) -> Mark:
    mark = delivery.settled_mark(rig)
    raw.append(f"{mark.t:.3f}", f"{mark.mass_mg:.5f}", f"{mark.recorded_U:.3f}", f"{rig.pump.time_of_day():.0f}", phase)
    return mark
