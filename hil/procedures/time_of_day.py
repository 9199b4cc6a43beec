"""A clock change under a basal programme by time of day: the programme set and shown taken, the pump's clock set
to a time before the change and the basal running; when the pump's clock shows the change's time, it is set to the
new time as its user sets it (with delivery paused, where the pump takes a time change only so, as Omnipod 5's user
must), and what reaches the balance from a settled reading before the change to one after the observation is weighed
against what the programme gives at the pump's time of day: the old time until the change, the new one after it."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hil.drivers.contracts import DAY_S, BasalSchedule, BasalSegment, PumpState
from hil.errors import DeviceRefused, RigError, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.rig import abort
from hil.rig.clock import poll_until
from hil.rig.rig import Rig
from hil.specs.methods import ClockChange, minutes

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["t_s", "mass_mg", "pump_delivered_U", "pump_time_of_day_s", "phase"]
# A programme's daily total as confirmed may differ from the one sent by its rates' rounding to the protocols' 0.001 U/h
# and its own 0.001 U: this much a segment, and no more, is the same programme.
DAILY_TOTAL_PLACES_U = 0.001


class ClockNotPutBack(RigError):
    """After the test, the pump's clock or its basal could not be put back: the rig's, to be put right by hand."""


def _put_back(rig: Rig, found_s: float, read_s: float) -> str:
    """The pump stopped, a basal of 0 all day, and its clock set to where it would be, to the minute; what went wrong,
    if anything."""
    back = round((found_s + rig.clock.now() - read_s) / 60.0) * 60 % DAY_S
    with abort.signals.shielded():
        try:
            rig.pump.stop()
            rig.pump.set_basal(0.0)
            rig.pump.set_time_of_day(back)
        except (RigError, DeviceRefused) as exc:
            log.error("the pump's clock not put back to %d s after midnight: %s", back, exc)
            return f"the pump's clock not put back to {back} s after midnight: {exc}"
    return ""


@contextmanager
def clock_put_back(rig: Rig) -> Iterator[None]:
    """For the block, the pump's clock as the test sets it; after it, however it ends, the pump stopped, one basal of 0
    all day and the clock where it would have been (a bench pump returned to use on a changed clock is this hazard
    itself). Ended without an error, a put-back that failed is ClockNotPutBack; ended by one, that error stands."""
    found_s, read_s = rig.pump.time_of_day(), rig.clock.now()
    try:
        yield
    except BaseException:
        _put_back(rig, found_s, read_s)
        raise
    problem = _put_back(rig, found_s, read_s)
    if problem:
        raise ClockNotPutBack(problem)


def schedule_of(case: ClockChange) -> BasalSchedule:
    return BasalSchedule(tuple(BasalSegment(minutes(start), rate) for start, rate in case.schedule.items()))


@dataclass
class ClockChangeRun:
    """What a clock change recorded: the marks before it (the programme followed on the clock as set) and after it (the
    first hour, the whole observation), when it came (rig time), the pump's time of day before and after it, and the
    balance polled after it."""

    set_s: float  # rig time the pump answered the clock's setting
    set_time_of_day_s: float  # the time of day it answered
    followed: tuple[Mark, Mark]  # settled, over the programme's first `follow_min` on the clock as set
    before: Mark  # settled, right before the change
    changed_s: float  # rig time the pump answered the change
    old_time_of_day_s: float  # the pump's time of day read right before the change
    new_time_of_day_s: float  # the time of day the pump answered the change with
    paused: str  # why the change was made with delivery paused ("" when the pump took it running)
    t_s: list[float] = field(default_factory=list)  # the polls after the change
    mass_mg: list[float] = field(default_factory=list)
    hour: Mark | None = None  # settled, an hour after the change
    after: Mark | None = None  # settled, after the observation

    def time_of_day_s(self, t_s: float) -> float:
        """The pump's time of day at a rig time after its clock was set: the clock as set until the change, the new one
        after it."""
        if t_s < self.changed_s:
            return self.set_time_of_day_s + (t_s - self.set_s)
        return self.new_time_of_day_s + (t_s - self.changed_s)

    def programme_U(self, schedule: BasalSchedule, from_s: float, to_s: float) -> float:
        """What the programme gives between two rig times at the pump's time of day (old clock, then new)."""
        until_change = max(0.0, min(to_s, self.changed_s) - from_s)
        after_change = max(0.0, to_s - max(from_s, self.changed_s))
        return schedule.insulin_U(self.time_of_day_s(from_s), until_change) + schedule.insulin_U(
            self.time_of_day_s(max(from_s, self.changed_s)), after_change
        )


def _set_clock(rig: Rig, seconds: int, what: str) -> tuple[float, str]:
    """Set the pump's clock as its user does: as it is, or, where the pump refuses a change while it delivers
    (NOT_ALLOWED, as Omnipod 5's user must pause first), paused, set and resumed. The time of day it then shows and why
    it was paused ("": it was not); StartingStateError when it shows another time."""
    paused = ""
    try:
        shown = rig.pump.set_time_of_day(seconds)
    except DeviceRefused as exc:
        if exc.code != "NOT_ALLOWED":
            raise
        try:
            running = rig.pump.status().state is PumpState.RUNNING
        except RigError as status_failed:
            raise status_failed from exc  # the refusal stays in the chain, its state unknown
        if not running:
            raise
        paused = f"the pump refused the change with delivery running ({exc}): paused, set and resumed"
        log.info("%s: %s", what, paused)
        rig.pump.suspend()
        shown = rig.pump.set_time_of_day(seconds)
        rig.pump.resume()
    if abs(shown - seconds) > 1.0:
        raise StartingStateError(f"pump: its clock set to {seconds} s after midnight ({what}) shows {shown:.0f} s")
    return shown, paused


def clock_change(rig: Rig, case: ClockChange, raw: CsvRecording) -> ClockChangeRun:
    """From the prepared pump: the case's programme set and shown taken, the clock set to `clock_set_to` (the pump
    stopped) and delivery resumed; settled marks over its first `follow_min`; a settled mark just before the clock
    shows `change_at`, the clock then set to `change_to`; settled marks an hour and `observe_min` after, the balance
    polled between. The pump is stopped at the end."""
    schedule = schedule_of(case)
    daily = rig.pump.set_basal_schedule(schedule)
    if abs(daily - schedule.daily_U) > DAILY_TOTAL_PLACES_U * len(schedule.segments):
        raise StartingStateError(
            f"pump: a basal programme of {schedule.daily_U:.3f} U a day sent, {daily:.3f} U a day confirmed"
        )
    rig.pump.stop()
    shown, _ = _set_clock(rig, minutes(case.clock_set_to) * 60, "the programme's start")
    set_s = rig.clock.now()
    rig.pump.resume()
    first = _mark(rig, raw, "the clock as set")
    rig.clock.sleep_until(max(rig.clock.now(), set_s + case.follow_min * 60.0))
    followed = (first, _mark(rig, raw, "the clock as set"))
    change_s = set_s + case.lead_min() * 60.0
    settle_s = rig.config.infusion_set.settle_s
    rig.clock.sleep_until(max(rig.clock.now(), change_s - settle_s - 60.0))  # room for the settled mark before it
    before = _mark(rig, raw, "before the change")
    rig.clock.sleep_until(max(rig.clock.now(), change_s))
    old = rig.pump.time_of_day()
    new, paused = _set_clock(rig, minutes(case.change_to) * 60, "the change")
    run = ClockChangeRun(set_s, shown, followed, before, rig.clock.now(), old, new, paused)
    for end_s, name in ((run.changed_s + 3600.0, "hour"), (run.changed_s + case.observe_min * 60.0, "after")):
        poll_until(rig.clock, lambda: _poll(rig, run, raw), end_s, case.poll_s)
        setattr(run, name, _mark(rig, raw, f"{name} the change"))
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
