"""One CAN bus (python-can) shared by the rig's CAN drivers, decoded with the rig's DBC (cantools).

Frames a driver is not waiting for are queued by message name for whoever reads them later (events,
heartbeats, another node's traffic). Counters of event, heartbeat, CGM and load-cell frames are checked as
frames arrive: a gap means frames were lost on the bus, which is a rig fault. Every frame sent or received
can be logged in Vector ASC format (python-can's ASCWriter), stamped with the rig clock.
"""

import logging
import select
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

import can

from hil.errors import ProtocolError, TransportError
from hil.transport import can_protocol as cp
from hil.transport.slcan_bus import SlcanBus

log = logging.getLogger(__name__)
QUEUE_LIMIT = 4096


class CanHub:
    def __init__(
        self,
        *,
        dbc: Path | str | None,
        now: Callable[[], float],
        timeout_s: float = 2.0,
        name: str = "CAN",
        **bus_options,
    ):
        """bus_options go to can.Bus (interface, channel, bitrate, ...); what they leave out python-can takes
        from its own configuration (~/.canrc, CAN_INTERFACE, ...)."""
        self.name = name
        self.now = now
        self.timeout_s = timeout_s
        self.db = cp.load_database(dbc)
        if bus_options.get("interface") == "slcan":
            bus_options.setdefault("sleep_after_open", 0)  # a pty needs no settling
        try:
            self.bus = _open_bus(bus_options)
        except (can.CanError, OSError, ValueError) as exc:
            raise TransportError(f"{name}: cannot open {bus_options.get('channel')}: {exc}") from None
        # Bounded: nobody reads every heartbeat; events are read at every poll, far below this.
        self.queues: dict[str, deque] = defaultdict(lambda: deque(maxlen=QUEUE_LIMIT))
        self._counters: dict[str, int] = {}
        self._arrivals = 0
        self._writer: can.ASCWriter | None = None

    # -- logging -------------------------------------------------------------------------------------------
    def log_to(self, path: Path | None) -> None:
        """Log every frame to an ASC file (None stops logging)."""
        if self._writer:
            self._writer.stop()
            self._writer = None
        if path is not None:
            self._writer = can.ASCWriter(str(path))

    def _log(self, message: can.Message) -> None:
        if self._writer:
            message.timestamp = self.now()
            self._writer.on_message_received(message)

    # -- frames --------------------------------------------------------------------------------------------
    def send(self, name: str, signals: dict) -> None:
        spec = self.db.get_message_by_name(name)
        message = can.Message(
            arbitration_id=spec.frame_id, data=cp.encode(spec, signals), is_extended_id=False, is_rx=False
        )
        try:
            self.bus.send(message, timeout=self.timeout_s)
        except (can.CanError, OSError, ValueError) as exc:
            raise TransportError(f"{self.name}: send {name} failed: {exc}") from None
        self._log(message)

    def _receive(self, timeout_s: float) -> tuple[str, dict] | None:
        """The next decoded frame of this DBC, or None at the timeout; frames of other ids are skipped."""
        try:
            message = self.bus.recv(timeout=timeout_s)
        except (can.CanError, OSError) as exc:
            raise TransportError(f"{self.name}: link lost: {exc}") from None
        except (ValueError, IndexError) as exc:  # python-can's slcan parser on a garbled line
            raise ProtocolError(f"{self.name}: garbled frame from the adapter: {exc}") from None
        if message is None:
            return None
        self._log(message)
        try:
            spec = self.db.get_message_by_frame_id(message.arbitration_id)
        except KeyError:
            return "", {}
        try:
            signals = cp.decode(spec, message.data)
        except Exception as exc:  # noqa: BLE001 - cantools raises several types for a bad payload
            raise ProtocolError(f"{self.name}: undecodable {spec.name} frame {message.data.hex()}: {exc}") from None
        self._check_counter(spec.name, signals)
        self._arrivals += 1
        signals["_arrival"] = self._arrivals  # queued frames of different names keep their order
        return spec.name, signals

    def _check_counter(self, name: str, signals: dict) -> None:
        if name not in cp.COUNTERS:
            return
        group, modulus = cp.COUNTERS[name]
        value = int(signals["counter"])
        expected = self._counters.get(group)
        self._counters[group] = value
        if expected is not None and value != (expected + 1) % modulus:
            lost = (value - expected - 1) % modulus
            raise ProtocolError(f"{self.name}: {lost} {group} frame(s) lost (counter {expected} then {value})")

    def read_until(self, accept: Callable[[str, dict], bool], timeout_s: float | None = None, what: str = "a frame"):
        """The first frame `accept` takes; others are queued by name. TransportError at the deadline."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(f"{self.name}: no {what} within {timeout:g} s")
            frame = self._receive(remaining)
            if frame is None or not frame[0]:
                continue
            if accept(*frame):
                return frame
            self.queues[frame[0]].append(frame[1])

    def drain(self) -> None:
        """Queue whatever frames have already arrived, without waiting. Called after every rig-clock step, so
        periodic traffic (heartbeats, streams) never piles up in the adapter while the test talks to others."""
        try:
            fd = self.bus.fileno()
        except NotImplementedError:
            fd = None
        while fd is None or self._holds_a_line() or select.select([fd], [], [], 0)[0]:
            frame = self._receive(0.001)
            if frame is None:
                if self._holds_a_line():  # a reply, not a frame, was read while frames wait behind it
                    continue
                return
            if frame[0]:
                self.queues[frame[0]].append(frame[1])

    def _holds_a_line(self) -> bool:
        """Whether the client has read a whole frame from the port that it has not yet given (SlcanBus reads what
        is waiting, so the port can be empty while frames are)."""
        return isinstance(self.bus, SlcanBus) and self.bus.holds_a_line()

    def last_counter(self, group: str) -> int | None:
        """The last counter value seen in a counter group (can_protocol.COUNTERS), None before any frame."""
        return self._counters.get(group)

    def close(self) -> None:
        self.log_to(None)
        try:
            self.bus.shutdown()
        except (can.CanError, OSError):
            log.warning("%s: error while shutting the bus down", self.name)


def _open_bus(bus_options: dict) -> can.BusABC:
    """can.Bus, but an slcan adapter through SlcanBus (hil.transport.slcan_bus: read a line at a time)."""
    options = can.util.load_config(config=bus_options)  # the rig's options over python-can's own configuration
    if options.get("interface") != "slcan":
        return can.Bus(ignore_config=True, **options)
    return SlcanBus(**{key: value for key, value in options.items() if key != "interface"})
