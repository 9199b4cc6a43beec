"""The reference pump driver's event stream over a real pty: the E<n> counter's gaps and duplicates, and alarms
confirmed from STATUS, so a lost ALARM line is a rig fault (LostEvent) and never "the pump did not alarm"."""

import signal
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.drivers.contracts import (Alarm, AlarmKind, BolusDone, PrimeDone, Priority, PumpState, Resumed, ResumeReason,
                                   Suspended, SuspendReason)
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.errors import LineFault, LostEvent, ProtocolError, RigError
from hil.rig.abort import Interrupted
from hil.transport.event_counter import EventCounter
from hil.transport.frames import decode, encode
from tests.unit.pty_instrument import ScriptedInstrument


class FakePump:
    """Answers STATUS with `alarms` and ALARMS with `raised` (id → pump time); events queued with `emit` are
    written just before the next reply, as a pump's event precedes a STATUS that shows its effect."""

    def __init__(self):
        self.alarms: list[str] = []
        self.raised: dict[str, str] = {}
        self.pending: list[str] = []
        self.wire = ScriptedInstrument(self._answer)
        self.driver = ReferencePumpDriver(self.wire.path, timeout_s=5.0)

    def emit(self, n: int, event: str, **fields) -> None:
        self.pending.append(encode(f"E{n}", "EVT", event, *(f"{k}={v}" for k, v in fields.items())).decode().rstrip())

    def _answer(self, line: str) -> list[str]:
        frame = decode(line.encode())
        if frame.word == "STATUS":
            args = ["state=" + ("ALARM" if self.alarms else "RUNNING"), "basal=1.000", "bolus=IDLE", "bolus_left=0.000",
                    "reservoir=200.000", "delivered=1.000", "alarms=" + (",".join(self.alarms) or "-"), "t=600.000"]
        elif frame.word == "ALARMS":
            args = [f"{i}=OCCLUSION:HIGH:{t}:0" for i, t in self.raised.items()]
        else:
            args = []
        replies, self.pending = self.pending + [encode(frame.tag, "OK", *args).decode().rstrip()], []
        return replies

    def raise_alarm(self, alarm_id: str, t: str, event_no: int | None) -> None:
        """The pump raises an alarm; event_no None: its ALARM line is lost on the wire."""
        self.alarms.append(alarm_id)
        self.raised[alarm_id] = t
        if event_no is not None:
            self.emit(event_no, "ALARM", id=alarm_id, kind="OCCLUSION", priority="HIGH", t=t)


@pytest.fixture
def pump():
    fake = FakePump()
    yield fake
    fake.driver.close()
    fake.wire.close()


def test_the_first_event_number_sets_the_base(pump):
    pump.emit(57, "BOLUS_DONE", amount="1.000")
    pump.emit(58, "PRIME_DONE", amount="0.500")
    pump.driver.status()
    assert pump.driver.events() == [BolusDone(1.0), PrimeDone(0.5)]


def test_a_duplicated_event_is_dropped_and_is_a_rig_fault(pump):
    pump.emit(57, "BOLUS_DONE", amount="1.000")
    pump.emit(57, "BOLUS_DONE", amount="1.000")  # the same line twice
    pump.emit(58, "PRIME_DONE", amount="0.500")
    with pytest.raises(LineFault, match="event .E57 EVT BOLUS_DONE amount=1.000. received twice"):
        pump.driver.status()
    assert [e.args[0] for e in pump.driver.link.events] == ["BOLUS_DONE", "PRIME_DONE"]  # queued once


def test_a_duplicated_reply_is_dropped_and_is_a_rig_fault(pump):
    pump.driver.status()
    pump.wire.send(encode("1", "OK", "state=RUNNING").decode().rstrip())  # the answer to request 1, again
    pump.driver.link.request("ID", idempotent=True)  # its own answer is still taken
    with pytest.raises(LineFault, match="answer '1 OK state=RUNNING' arrived while waiting for 2"):
        pump.driver.status()


def test_a_late_answer_to_a_failed_attempt_is_only_logged(caplog):
    status = ["state=RUNNING", "basal=1.000", "bolus=IDLE", "bolus_left=0.000", "reservoir=200.000",
              "delivered=1.000", "alarms=-", "t=600.000"]

    def answer(line: str) -> list[str]:
        frame = decode(line.encode())
        if frame.tag == "1":  # the first attempt's answer comes after the driver gave up on it
            time.sleep(0.4)
        return [encode(frame.tag, "OK", *status).decode().rstrip()]

    wire = ScriptedInstrument(answer)
    driver = ReferencePumpDriver(wire.path, timeout_s=0.3)
    try:
        driver.status()  # attempt 1 times out, attempt 2 (tag 2) waits past the late answer to tag 1
        driver.status()
        assert "late answer" in caplog.text and not driver.link.unasked
    finally:
        driver.close()
        wire.close()


def test_the_answer_to_a_request_cut_short_by_a_signal_is_no_link_fault(caplog):
    """Ctrl-C lands between a request and its answer; the STOP that makes the pump safe then reads that answer
    first. Found by interrupting `hil verify` mid-occlusion test: the test's end raised LineFault, a traceback."""
    status = ["state=RUNNING", "basal=1.000", "bolus=IDLE", "bolus_left=0.000", "reservoir=200.000",
              "delivered=1.000", "alarms=-", "t=600.000"]

    def answer(line: str) -> list[str]:
        frame = decode(line.encode())
        if frame.tag == "1":
            time.sleep(0.3)  # the signal arrives while the driver waits for this answer
        return [encode(frame.tag, "OK", *status).decode().rstrip()]

    wire = ScriptedInstrument(answer)
    driver = ReferencePumpDriver(wire.path, timeout_s=2.0)
    read_line = driver.link.line.read_line

    def interrupted_read(timeout_s=None):
        driver.link.line.read_line = read_line
        time.sleep(0.05)
        raise Interrupted(signal.SIGINT)

    driver.link.line.read_line = interrupted_read
    try:
        with pytest.raises(Interrupted):
            driver.status()
        driver.stop()
        driver.check_link()
        assert "late answer" in caplog.text and not driver.link.unasked
    finally:
        driver.close()
        wire.close()


def test_a_counter_gap_is_a_lost_event(pump):
    pump.emit(1, "BOLUS_DONE", amount="1.000")
    pump.emit(3, "BOLUS_DONE", amount="1.000")
    with pytest.raises(LostEvent, match="E1 to E3: 1 event"):
        pump.driver.status()
    with pytest.raises(LostEvent):
        pump.driver.events()


def test_a_counter_going_back_is_a_rig_fault(pump):
    pump.emit(5, "BOLUS_DONE", amount="1.000")
    pump.emit(2, "BOLUS_DONE", amount="1.000")
    with pytest.raises(LostEvent, match="went back from E5 to E2"):
        pump.driver.status()


def test_an_announced_alarm_is_confirmed_by_status(pump):
    pump.raise_alarm("1", "500.000", event_no=1)
    assert pump.driver.status().active_alarms == ("1",)
    assert [e.alarm_id for e in pump.driver.events()] == ["1"]
    assert pump.driver.status().state is PumpState.ALARM


def test_an_alarm_whose_event_was_lost_is_reported_lost_not_missing(pump):
    pump.driver.status()
    pump.raise_alarm("1", "500.000", event_no=None)
    with pytest.raises(LostEvent, match="alarm\\(s\\) 1 active but no ALARM event") as info:
        pump.driver.status()
    assert isinstance(info.value, RigError)


def test_the_lost_alarm_names_the_counter_gap_when_a_later_event_shows_it(pump):
    pump.emit(1, "BOLUS_DONE", amount="1.000")
    pump.driver.status()
    pump.raise_alarm("1", "500.000", event_no=None)  # E2, lost
    pump.emit(3, "BOLUS_DONE", amount="1.000")
    with pytest.raises(LostEvent, match="E1 to E3"):
        pump.driver.status()


def test_an_alarm_id_used_again_by_a_fresh_pump_needs_its_own_event(pump):
    pump.raise_alarm("1", "100.000", event_no=1)
    pump.driver.status()
    pump.driver.events()
    pump.alarms.clear()  # a RESET: a fresh pump, which numbers its alarms from 1 again
    pump.driver.status()
    pump.raise_alarm("1", "900.000", event_no=None)
    with pytest.raises(LostEvent):
        pump.driver.status()


def test_an_alarm_acknowledged_before_any_status_showed_it_is_forgotten_too(pump):
    pump.raise_alarm("1", "100.000", event_no=1)
    pump.driver.pump_time()  # the fake writes the event before this reply
    assert [e.alarm_id for e in pump.driver.events()] == ["1"]
    pump.driver.acknowledge("1")
    pump.alarms.clear()  # acknowledged, then a RESET, before any STATUS showed it
    pump.driver.status()
    pump.raise_alarm("1", "900.000", event_no=None)
    with pytest.raises(LostEvent):
        pump.driver.status()


@pytest.mark.parametrize("tag", ["E0", "E", "7", "E-1", "E1.5", "E\u00b2", "e3"])
def test_a_malformed_event_tag_is_a_protocol_error(tag):
    with pytest.raises(ProtocolError, match="is not E<n>"):
        EventCounter("pump").accept(tag)


@given(st.lists(st.text(max_size=8), max_size=6))
def test_any_event_tags_are_counted_or_a_protocol_error(tags):
    counter = EventCounter("pump")
    for tag in tags:
        try:
            assert counter.accept(tag) in (True, False)
        except ProtocolError:
            pass


def test_events_are_typed_with_numbers_as_numbers_and_unknown_words_are_rig_faults(pump):
    pump.emit(1, "ALARM", id="4", kind="OCCLUSION", priority="HIGH", t="612.500", pressure="83.2")
    pump.emit(2, "SUSPEND", reason="BEFORE_LOW", t="700.000")
    pump.emit(3, "RESUME", reason="CGM_LOST", t="800.250")
    pump.driver.status()
    assert pump.driver.events() == [Alarm("4", AlarmKind.OCCLUSION, Priority.HIGH, 612.5, 83.2),
                                    Suspended(SuspendReason.BEFORE_LOW, 700.0), Resumed(ResumeReason.CGM_LOST, 800.25)]
    pump.emit(4, "ALARM", id="5", kind="OCCLUSION", priority="URGENT", t="900.000")
    pump.driver.status()
    with pytest.raises(ProtocolError, match="lacks a valid 'priority'"):
        pump.driver.events()
    pump.emit(5, "SELF_DESTRUCT", t="901.000")
    pump.driver.status()
    with pytest.raises(ProtocolError, match="unknown event"):
        pump.driver.events()
