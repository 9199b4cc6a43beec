"""What every pump driver gets from the contract, not from its own code (python-can's BusABC.recv /
_recv_internal split is the model): a driver reads its protocol (`_read_status`, `_read_events`) and the base
holds the checks the suite's verdicts rest on.

The lost-event check: a pump announces an alarm by an event before any STATUS shows it active (one link keeps
order), so an alarm newly active in STATUS that no Alarm event announced was lost on the wire (or raised before the
harness connected): a rig fault (LostEvent), never "the pump did not alarm". Events read while confirming a STATUS
are kept for the next events() call. An announced alarm id is forgotten once it is acknowledged through the driver or
a STATUS shows it cleared, so a pump that numbers its alarms afresh (after a restart) must announce a reused id
again.

A transport that does not keep that order (CAN: arbitration sends the lowest identifier first, and the reference
DBC's status frames outrank its alarm frames) can deliver a STATUS before the events it shows. Its driver sets
`event_wait_s`: an alarm that no event has announced yet is then waited for that long, the link read meanwhile,
before it is called lost; an event that has not come by then is lost as before.
"""

import time
from abc import ABC, abstractmethod

from hil.drivers.contracts import Alarm, BasalSchedule, BasalSegment, PumpEvent, PumpStatus
from hil.errors import LostEvent, ProtocolError
from hil.transport.serial_line import SerialLine

EVENT_POLL_S = 0.002  # while waiting for events in flight: wall seconds between reads of the link


class PumpDriver(ABC):
    """A pump driver's base: status() and events() with the lost-event check, over the driver's own reads."""

    # Wall seconds status() waits for the events announcing an alarm it shows: 0 on one ordered link; a driver whose
    # transport can deliver a STATUS before its events sets the time they can trail it by.
    event_wait_s: float = 0.0

    def __init__(self) -> None:
        self._announced: set[str] = set()  # alarm ids an Alarm event announced, not yet seen cleared
        self._active: set[str] = set()  # alarm ids active at the last STATUS
        self._pending: list[PumpEvent] = []  # events read while confirming a STATUS, for the next events()

    @abstractmethod
    def _read_status(self) -> PumpStatus:
        """The pump's STATUS as the protocol gives it."""

    @abstractmethod
    def _read_events(self) -> list[PumpEvent]:
        """The events received since the last call, oldest first, typed."""

    @abstractmethod
    def _acknowledge(self, alarm_id: str) -> None:
        """Send the acknowledgement of an alarm."""

    @abstractmethod
    def check_link(self) -> None:
        """Raise what the link found wrong (a counter gap, a line lost or repeated): a RigError."""

    def set_basal_schedule(self, schedule: BasalSchedule) -> float:
        """Each segment in turn (`_send_segment`); the daily total the pump answers once it holds all of them (a
        ProtocolError when it answers it holds another programme's count: never taken for the one sent)."""
        count = len(schedule.segments)
        for index, segment in enumerate(schedule.segments):
            received, of, daily = self._send_segment(index, count, segment)
        if (received, of) != (count, count):
            raise ProtocolError(
                f"pump: after the last of {count} basal segments it answered {received} received of {of}"
            )
        return daily

    def _send_segment(self, index: int, count: int, segment: BasalSegment) -> tuple[int, int, float]:
        """Send segment `index` of a programme of `count`; the pump's answer: (received, of, daily total). A driver
        declaring Capability.BASAL_SCHEDULE gives it."""
        raise NotImplementedError

    def wire_lines(self) -> list[SerialLine]:
        """The serial lines whose traffic goes into each test's wire log (a CAN driver's frames are the rig's CAN
        hub's to log): none unless the driver names them."""
        return []

    def status(self) -> PumpStatus:
        status = self._read_status()
        active = set(status.active_alarms)
        new = active - self._active
        if new - self._announced:
            self._await_announcement(new)
        self.check_link()  # a counter gap names the lost event better than the alarm can
        lost = sorted(new - self._announced)
        if lost:
            waited = f" within {self.event_wait_s:g} s of the STATUS" if self.event_wait_s else ""
            raise LostEvent(
                f"pump: STATUS shows alarm(s) {', '.join(lost)} active but no ALARM event announced them{waited}: the "
                "event was lost on the wire, or the alarm predates the connection"
            )
        self._announced -= self._active - active  # cleared: a restarted pump may use the id again
        self._active = active
        return status

    def _await_announcement(self, alarm_ids: set[str]) -> None:
        """Take the events on the link (announced, not yet taken by events()) until they announce every one of
        `alarm_ids` or `event_wait_s` has passed."""
        deadline = time.monotonic() + self.event_wait_s
        self._take(self._read_events())
        while alarm_ids - self._announced and time.monotonic() < deadline:
            time.sleep(EVENT_POLL_S)
            self._take(self._read_events())

    def events(self) -> list[PumpEvent]:
        """Events received so far (those read while confirming a STATUS first), oldest first."""
        self._take(self._read_events())
        self.check_link()
        out, self._pending = self._pending, []
        return out

    def acknowledge(self, alarm_id: str) -> None:
        """Acknowledge an alarm; its announcement is spent, so the id raised again after a STATUS showed it cleared
        needs an event of its own. (It stays active until a STATUS shows it cleared: a pump that ignores the
        acknowledgement is then seen keeping it, not taken for one that lost an event.)"""
        self._acknowledge(alarm_id)
        self._announced.discard(alarm_id)

    def _take(self, events: list[PumpEvent]) -> None:
        self._announced.update(e.alarm_id for e in events if isinstance(e, Alarm))
        self._pending.extend(events)
