"""The clock-change procedure (hil/procedures/time_of_day.py) on the emulated rig: a pump that takes a time change only
with delivery paused (as Omnipod 5) is paused, set and resumed, and its hour still measured against the programme at
the new time; a programme or a clock the pump does not show as set is the rig's ERROR before anything is weighed; the
programme credited around the change follows the pump's clock, old then new."""

import re
from pathlib import Path

import pytest

from hil.drivers.contracts import BasalSchedule, BasalSegment, PumpState
from hil.errors import DeviceRefused, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.time_of_day import RECORDING_COLUMNS, ClockChangeRun, clock_change, clock_put_back, schedule_of
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.specs.methods import ClockChange

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = ROOT / "fixtures" / "rigs" / "emulator.yaml"
SPRING = ClockChange(
    schedule={"00:00": 1.0, "00:30": 3.0, "01:00": 1.0, "02:00": 3.0, "03:00": 1.0},
    clock_set_to="00:30",
    follow_min=30,
    change_at="02:00",
    change_to="03:00",
    observe_min=60,
    poll_s=300,
)


class _PausedOnly:
    """The rig's pump, refusing a time change while it delivers (as Omnipod 5's user must pause first)."""

    def __init__(self, pump):
        self._pump, self.refused = pump, 0

    def set_time_of_day(self, seconds):
        if self._pump.status().state is PumpState.RUNNING:
            self.refused += 1
            raise DeviceRefused("pump", "NOT_ALLOWED", "pause insulin delivery to change the time")
        return self._pump.set_time_of_day(seconds)

    def __getattr__(self, name):
        return getattr(self._pump, name)


class _Confirming(_PausedOnly):
    """The rig's pump, answering a programme and a clock other than the ones sent."""

    def __init__(self, pump, daily=None, shown=None):
        super().__init__(pump)
        self.daily, self.shown = daily, shown

    def set_basal_schedule(self, schedule):
        confirmed = self._pump.set_basal_schedule(schedule)
        return confirmed if self.daily is None else self.daily

    def set_time_of_day(self, seconds):
        shown = self._pump.set_time_of_day(seconds)
        return shown if self.shown is None else self.shown


def test_a_pump_that_takes_a_change_only_paused_is_paused_set_and_resumed(tmp_path):
    with Rig(load_rig(NOMINAL)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("paused change")
        pump = rig._pump = _PausedOnly(rig.pump)  # noqa: SLF001 - the rig opened it; the test wraps it
        delivery.prepare(rig)
        run = clock_change(rig, SPRING, raw)
        grav = Gravimetry(rig.config)
        assert run.hour is not None
        weighed, _ = grav.weighed(run.before.t, run.before.mass_mg, run.hour.t, run.hour.mass_mg)
    assert pump.refused == 1 and "paused, set and resumed" in run.paused  # the first setting came with the pump stopped
    assert run.new_time_of_day_s == 3 * 3600
    assert weighed == pytest.approx(run.programme_U(schedule_of(SPRING), run.before.t, run.hour.t), rel=0.1)  # not 3 U


def test_a_refusal_other_than_a_pause_is_the_pumps_answer(tmp_path):
    """A pump that refuses a time of day as a bad argument is not paused and tried again: its refusal stands."""

    class _BadArgument(_PausedOnly):
        def set_time_of_day(self, seconds):
            raise DeviceRefused("pump", "BAD_ARGUMENT", "TIME")

    with Rig(load_rig(NOMINAL)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("bad argument")
        rig._pump = _BadArgument(rig.pump)  # noqa: SLF001
        with pytest.raises(DeviceRefused, match="BAD_ARGUMENT"):
            clock_change(rig, SPRING, raw)
        assert rig.pump.status().state is not PumpState.RUNNING


@pytest.mark.parametrize(("daily", "shown", "said"), [
    (24.0, None, "a basal programme of 27.000 U a day sent, 24.000 U a day confirmed"),
    (None, 0.0, "its clock set to 1800 s after midnight (the programme's start) shows 0 s"),
])
def test_a_programme_or_clock_not_shown_taken_is_the_rigs_error(tmp_path, daily, shown, said):
    with Rig(load_rig(NOMINAL)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("not taken")
        rig._pump = _Confirming(rig.pump, daily, shown)  # noqa: SLF001
        with pytest.raises(StartingStateError, match=re.escape(said)):
            clock_change(rig, SPRING, raw)


def test_the_programme_is_credited_on_the_clock_as_set_then_the_new():
    schedule = BasalSchedule((BasalSegment(0, 1.0), BasalSegment(120, 3.0), BasalSegment(180, 1.0)))
    mark = Mark(t=0.0, mass_mg=0.0, recorded_U=0.0)
    # the clock set to 00:30 at rig time 1000 s; the change at rig time 6400 s (02:00) to 03:00
    run = ClockChangeRun(1000.0, 1800.0, (mark, mark), mark, 6400.0, 7200.0, 10800.0, "")
    assert run.time_of_day_s(6280.0) == 7080.0 and run.time_of_day_s(6460.0) == 10860.0
    assert run.programme_U(schedule, 6280.0, 6400.0 + 3600.0) == pytest.approx(120 / 3600 + 1.0)
    assert run.programme_U(schedule, 1000.0, 1000.0 + 1800.0) == pytest.approx(0.5)  # 00:30-01:00 at 1 U/h here
    # kept on the old clock, the same span would have given the 3 U/h hour
    assert schedule.insulin_U(run.time_of_day_s(6280.0), 3720.0) == pytest.approx(120 / 3600 + 3.0)


def test_the_clock_is_put_back_however_the_test_ends(tmp_path):
    with Rig(load_rig(NOMINAL)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("put back")
        rig.pump.set_time_of_day(8 * 3600)
        start_s = rig.clock.now()
        with pytest.raises(KeyboardInterrupt), clock_put_back(rig):
            clock_change(rig, SPRING, raw)  # the clock set to 00:00, then 03:00
            raise KeyboardInterrupt
        elapsed = rig.clock.now() - start_s
        assert abs(rig.pump.time_of_day() - (8 * 3600 + elapsed)) <= 30.0 + 1.0  # to the minute
        status = rig.pump.status()
        assert status.state is not PumpState.RUNNING and status.basal_U_per_h == 0.0
