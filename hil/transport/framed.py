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
        self._awaited: dict[str, str] = {}  # tag → command of the requests in flight
        self._answers: dict[str, Frame] = {}  # answers read for requests sent with `send`, by tag, until taken
        self._unanswered: set[str] = set()  # tags of requests answered only if refused

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
            except (TransportError, ProtocolError) as exc:  # its tag abandoned: a late answer is expected
                log.warning("%s %s attempt %d/%d failed: %s", self.device, command, attempt, attempts, exc)
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def send(self, command: str, *args: object, answered: bool = True) -> str:
        """Send a request without waiting for its answer; its tag, for `answer`. The answers come in the order the
        requests were sent, each read and checked on the way to a later one's. A request not `answered` (the
        emulator's FENCE) is answered only when refused, and that refusal raises when it is read. Never retried."""
        self._seq = self._seq % 9999 + 1
        tag = str(self._seq)
        self._abandoned.discard(tag)  # a tag used again: no late answer to its earlier use is told from its own
        self._unanswered.discard(tag)
        if answered:
            self._awaited[tag] = command
        else:
            self._unanswered.add(tag)
        try:
            self.line.write_line(encode(tag, command, *args))
        except BaseException:
            self._forget(tag)
            raise
        return tag

    def answer(self, tag: str, timeout_s: float | None = None) -> Frame:
        """The answer to the request `send` gave `tag`, reading (and checking) the answers to those sent before it
        on the way: a refusal of any of them raises."""
        try:
            while tag in self._awaited:
                frame = self._decode(self.line.read_line(timeout_s), f"answer to {self._awaited[tag]}")
                self._take(frame, tag)
        except BaseException:  # its answer may still come: expected, as after a signal
            self._forget(tag)
            raise
        return self._answers.pop(tag)

    def _take(self, frame: Frame, awaited: str) -> None:
        """A frame read while waiting for `awaited`: an event queued, an answer to a request in flight checked and
        kept for its sender, anything else dropped as a stray."""
        if frame.word == "EVT":
            self._queue_event(frame)
        elif frame.tag in self._awaited:
            self._accepted(frame, self._awaited.pop(frame.tag))
            self._answers[frame.tag] = frame
        elif frame.tag in self._unanswered:
            self._unanswered.discard(frame.tag)
            self._accepted(frame, "a request answered only if refused")
        else:
            self._drop_stray_answer(frame, awaited)

    def _forget(self, tag: str) -> None:
        """A request whose answer will not be read: a late one is dropped as expected."""
        if self._awaited.pop(tag, None) is not None:
            self._abandoned.add(tag)

    def _accepted(self, frame: Frame, command: str) -> None:
        """An OK answer passes; an ERR raises the link's refusal; anything else is a protocol error."""
        if frame.word == "OK":
            return
        if frame.word == "ERR" and frame.args:
            raise self._refused(self.device, frame.args[0], " ".join(frame.args[1:]))
        raise ProtocolError(f"{self.device}: unexpected answer to {command}: {frame.body}")

    def _exchange(
        self, command: str, args: tuple, timeout_s: float | None, meanwhile: Callable[[], None] | None
    ) -> Frame:
        tag = self.send(command, *args)
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException:  # the answer will still come: expected, as after a signal
                self._forget(tag)
                raise
        return self.answer(tag, timeout_s)

    def poll_events(self) -> None:
        """Queue the unsolicited events that have arrived, without waiting."""
        for raw in self.line.pending_lines():
            self._take(self._decode(raw, "unsolicited frame"), "no answer")

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
            self._take(self._decode(raw, "unsolicited frame"), "no answer")
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
