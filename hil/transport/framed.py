"""Request/response over framed lines (hil.transport.frames), with unsolicited events queued aside."""

import logging
import time
from collections import deque
from collections.abc import Callable

from hil.errors import DeviceRefused, ProtocolError, TransportError
from hil.run_log import narrative
from hil.transport.event_counter import EventCounter
from hil.transport.frames import Frame, FrameError, decode, encode
from hil.transport.serial_line import SerialLine

log = logging.getLogger(__name__)


class FramedLink:
    """Sends ``<seq> <COMMAND> args`` and returns the matching ``<seq> OK ...`` frame.

    Idempotent requests are retried once after a corrupt or missing answer (a transport fault), and
    every attempt is logged; a command that changes state is never retried. Events are checked against their
    counter (`event_counter.faults` lists lost ones). A line nobody asked for (an event or a reply received
    twice, an answer to no request in flight) is dropped and listed in `unasked`: the driver raises it as a rig
    fault at its next check, never in the middle of an exchange, so the answer being waited for is not lost.
    A late answer to an attempt that failed, or whose wait a signal cut short, is expected and only logged.
    Every state-changing request and its answer or refusal go to the run's log, except the `quiet` commands
    (sent too often to read: time steps, CGM values; the wire log has them).
    """

    def __init__(
        self,
        line: SerialLine,
        device: str,
        refused: type[Exception] = DeviceRefused,
        quiet: frozenset[str] = frozenset(),
    ):
        """refused: what an ERR answer raises, called (device, code, message): DeviceRefused for the device under
        test (a product finding), an InstrumentRefused for the rig's own instruments."""
        self.line = line
        self.device = device
        self._refused = refused
        self._quiet = quiet
        self._seq = 0
        self.events: deque[Frame] = deque()
        self.event_counter = EventCounter(device)
        self.unasked: list[str] = []
        self._abandoned: set[str] = set()  # tags of attempts that failed: their answer may still come

    def request(
        self,
        command: str,
        *args: object,
        idempotent: bool = False,
        timeout_s: float | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> Frame:
        """meanwhile: the caller's own work (no I/O on this link), done once the request is sent and before its
        answer is read, so that it overlaps the device's work on the request (the lockstep clock's step)."""
        attempts = 2 if idempotent else 1
        told = not idempotent and command not in self._quiet
        for attempt in range(1, attempts + 1):
            try:
                frame = self._exchange(command, args, timeout_s, meanwhile if attempt == 1 else None)
                if told:
                    narrative.info(
                        "%s %s: %s",
                        self.device,
                        " ".join(map(str, (command, *args))),
                        " ".join((frame.word, *frame.args)),
                    )
                return frame
            except self._refused as exc:
                if told:
                    narrative.info("%s %s: refused: %s", self.device, " ".join(map(str, (command, *args))), exc)
                raise
            except (TransportError, ProtocolError) as exc:
                self._abandoned.add(str(self._seq))
                log.warning("%s %s attempt %d/%d failed: %s", self.device, command, attempt, attempts, exc)
                if attempt == attempts:
                    raise
            except KeyboardInterrupt:  # a signal cut the wait short (hil.rig.abort): the STOP that follows gets its
                self._abandoned.add(str(self._seq))  # answer after this one's, which is expected, not a link fault
                raise
        raise AssertionError("unreachable")

    def _exchange(
        self, command: str, args: tuple, timeout_s: float | None, meanwhile: Callable[[], None] | None
    ) -> Frame:
        self._seq = self._seq % 9999 + 1
        tag = str(self._seq)
        self.line.write_line(encode(tag, command, *args))
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException:  # the answer will still come: expected, as after a signal
                self._abandoned.add(tag)
                raise
        while True:
            frame = self._decode(self.line.read_line(timeout_s), f"answer to {command}")
            if frame.word == "EVT":
                self._queue_event(frame)
                continue
            if frame.tag != tag:
                self._drop_stray_answer(frame, tag)
                continue
            if frame.word == "OK":
                return frame
            if frame.word == "ERR" and frame.args:
                raise self._refused(self.device, frame.args[0], " ".join(frame.args[1:]))
            raise ProtocolError(f"{self.device}: unexpected answer to {command}: {frame.body}")

    def poll_events(self) -> None:
        """Queue the unsolicited events that have arrived, without waiting."""
        for raw in self.line.pending_lines():
            frame = self._decode(raw, "unsolicited frame")
            if frame.word == "EVT":
                self._queue_event(frame)
            else:
                self._drop_stray_answer(frame, "no answer")

    def await_event(self, number: int) -> bool:
        """Read until the event `E<number>` (or a later one) has been queued; False when the link's deadline passes
        first. A stray answer on the way is dropped and reported, as in poll_events."""
        deadline = time.monotonic() + self.line.timeout_s
        while (self.event_counter.last or 0) < number:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                raw = self.line.read_line(remaining)
            except TransportError:
                if time.monotonic() >= deadline:
                    return False
                raise
            frame = self._decode(raw, "unsolicited frame")
            if frame.word == "EVT":
                self._queue_event(frame)
            else:
                self._drop_stray_answer(frame, "no answer")
        return True

    def _drop_stray_answer(self, frame: Frame, awaited: str) -> None:
        if frame.tag in self._abandoned:
            self._abandoned.discard(frame.tag)
            log.warning("%s: dropping the late answer %s to a failed attempt", self.device, frame.body)
            return
        self._unasked(f"answer {frame.body!r} arrived while waiting for {awaited}: a duplicated or unasked-for line")

    def _queue_event(self, frame: Frame) -> None:
        if self.event_counter.accept(frame.tag):
            self.events.append(frame)
        else:
            self._unasked(f"event {frame.body!r} received twice: a duplicated line")

    def _unasked(self, what: str) -> None:
        self.unasked.append(what)
        log.error("%s: %s (dropped)", self.device, what)

    def _decode(self, raw: bytes, what: str) -> Frame:
        try:
            return decode(raw)
        except FrameError as exc:
            raise ProtocolError(f"{self.device}: corrupt {what}: {exc}") from None

    def close(self) -> None:
        self.line.close()
