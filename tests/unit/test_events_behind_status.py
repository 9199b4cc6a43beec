"""A transport that can deliver a STATUS before the events it shows (CAN: the reference DBC's status frames outrank
its alarm frames): the lost-event check waits `event_wait_s` for an alarm's events still in flight before it calls
one lost (hil.drivers.pump_base), so a pump is never reported losing an event it sent, and an event that never
comes is still a LostEvent, after the wait."""

import time
from pathlib import Path

import pytest

from hil.drivers.contracts import Alarm, AlarmKind, BolusState, Priority, PumpEvent, PumpState, PumpStatus
from hil.drivers.pump_base import PumpDriver
from hil.emulation.wire_faults import WireFaultKind
from hil.errors import LostEvent
from hil.rig.config import load_rig
from hil.rig.rig import Rig

ROOT = Path(__file__).resolve().parents[2]
BEHIND_STATUS = ROOT / "fixtures" / "rigs" / "untrusted" / "can-events-behind-status.yaml"
ALARM_FRAMES = 2  # PumpAlarm and PumpAlarmTime (fixtures/can/pump.dbc)
STATUS_FRAMES = 5  # PumpStatus1 to PumpStatus5


class TrailingEvents(PumpDriver):
    """A pump whose STATUS shows alarm 1 at once and whose Alarm event arrives `trail_s` wall seconds after that
    STATUS was read (None: never)."""

    def __init__(self, trail_s: float | None, event_wait_s: float):
        super().__init__()
        self.trail_s, self.event_wait_s = trail_s, event_wait_s
        self.status_read_at: float | None = None

    def _read_status(self) -> PumpStatus:
        self.status_read_at = time.monotonic()
        return PumpStatus(PumpState.ALARM, 0.0, BolusState.IDLE, 0.0, 200.0, 0.0, ("1",), None)

    def _read_events(self) -> list[PumpEvent]:
        assert self.status_read_at is not None
        if self.trail_s is None or time.monotonic() < self.status_read_at + self.trail_s:
            return []
        self.trail_s = None  # arrives once
        return [Alarm("1", AlarmKind.OCCLUSION, Priority.HIGH, 500.0, None)]

    def _acknowledge(self, alarm_id: str) -> None:
        pass

    def check_link(self) -> None:
        pass


def test_an_event_trailing_its_status_within_the_wait_announces_the_alarm():
    pump = TrailingEvents(trail_s=0.05, event_wait_s=0.5)
    assert pump.status().active_alarms == ("1",)
    assert [e.alarm_id for e in pump.events() if isinstance(e, Alarm)] == ["1"]


def test_on_an_ordered_link_the_same_trailing_event_is_called_lost():
    with pytest.raises(LostEvent, match="alarm\\(s\\) 1 active but no ALARM event announced them: "):
        TrailingEvents(trail_s=0.05, event_wait_s=0.0).status()


def test_an_event_that_never_comes_is_lost_once_the_wait_is_over():
    pump = TrailingEvents(trail_s=None, event_wait_s=0.2)
    started = time.monotonic()
    with pytest.raises(LostEvent, match="announced them within 0.2 s of the STATUS"):
        pump.status()
    assert time.monotonic() - started >= 0.2


def _rig_file(tmp_path: Path, event_wait_s: float | None) -> Path:
    """The behind-status rig, with the CAN driver's wait given (None: the driver's default)."""
    if event_wait_s is None:
        return BEHIND_STATUS
    path = tmp_path / "rig.yaml"
    path.write_text(
        f"extends: {BEHIND_STATUS}\nrig_id: behind-status-wait\npump:\n"
        f"  driver: reference-can\n  event_wait_s: {event_wait_s}\n"
    )
    return path


def _occlusion(rig: Rig) -> None:
    """An occlusion alarm raised by the last clock step: basal into the closed valve for hours."""
    rig.begin_test("events behind status")
    rig.pump.resume()
    rig.pump.set_basal(2.0)
    rig.clock.sleep(600.0)
    rig.pump.status()  # whatever resuming sent has followed this STATUS
    rig.clock.sleep(0.2)
    rig.pump.events()
    rig.occlusion_valve.close()
    rig.clock.sleep(4 * 3600.0)


def test_over_can_an_alarm_whose_frames_follow_its_status_is_announced_not_lost(tmp_path):
    with Rig(load_rig(_rig_file(tmp_path, None))) as rig:
        _occlusion(rig)
        assert rig.pump.status().active_alarms == ("1",)
        alarms = [e for e in rig.pump.events() if isinstance(e, Alarm)]
        assert [(a.alarm_id, a.kind) for a in alarms] == [("1", AlarmKind.OCCLUSION)]


def test_over_can_without_the_wait_the_same_pump_is_reported_losing_its_alarm(tmp_path):
    with Rig(load_rig(_rig_file(tmp_path, 0.0))) as rig:
        _occlusion(rig)
        with pytest.raises(LostEvent, match="alarm\\(s\\) 1 active but no ALARM event announced them: "):
            rig.pump.status()


def test_over_can_alarm_frames_that_are_never_sent_are_lost_after_the_wait(tmp_path):
    with Rig(load_rig(_rig_file(tmp_path, 0.3))) as rig:
        _occlusion(rig)
        # the next STATUS reply's frames go through, the alarm frames held behind it are dropped
        rig.control.wire_fault("can", WireFaultKind.DROP, skip=STATUS_FRAMES, count=ALARM_FRAMES)
        started = time.monotonic()
        with pytest.raises(LostEvent, match="announced them within 0.3 s of the STATUS"):
            rig.pump.status()
        assert time.monotonic() - started >= 0.3
