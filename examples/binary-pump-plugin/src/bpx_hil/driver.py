"""The hil driver for the BPX pump (registered as `bpx-binary`): its binary protocol (bpx_hil.wire) mapped onto hil's
Pump contract. It builds on hil.drivers.pump_base.PumpDriver, so the lost-event check and the wire log come with
it; what is its own: the framing and CRC, its requests, and its event counter (from 0x8000, wrapping)."""

import math
import struct
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from bpx_hil import wire
from hil.drivers.contracts import (
    Alarm,
    AlarmKind,
    AutoBasal,
    AutoBolus,
    AutoExit,
    AutoExitReason,
    AutoModeState,
    AutoSettings,
    AutoZone,
    BolusDone,
    BolusState,
    Capability,
    PrimeDone,
    Priority,
    PumpEvent,
    PumpIdentity,
    PumpState,
    PumpStatus,
    Resumed,
    ResumeReason,
    Suspended,
    SuspendReason,
)
from hil.drivers.pump_base import PumpDriver
from hil.drivers.registry import Baudrate, DeviceKind, RigContext, SerialOptions
from hil.errors import DeviceRefused, LineFault, LostEvent, ProtocolError
from hil.transport.serial_line import SerialLine


class BpxPump(PumpDriver):
    """The BPX pump over its binary service link."""

    device = DeviceKind.PUMP
    # the service link has no dose-limit message, no low-reservoir alert setting, no fault injection, no basal
    # programme by time of day and no bolus calculator
    capabilities = frozenset(Capability) - {
        Capability.DOSE_LIMITS,
        Capability.RESERVOIR_ALERT,
        Capability.FAULT_INJECTION,
        Capability.BASAL_SCHEDULE,
        Capability.BOLUS_CALCULATOR,
    }

    class Options(SerialOptions):
        baudrate: Baudrate = 115200

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "BpxPump":
        return cls(rig.port(options.port), baudrate=options.baudrate, timeout_s=options.timeout_s)

    def __init__(self, port: str, *, baudrate: int = 115200, timeout_s: float = 2.0):
        super().__init__()
        self.line = SerialLine(port, baudrate=baudrate, timeout_s=timeout_s, name="pump", terminator=wire.FLAG)
        self._seq = 0
        self._events: deque[wire.Message] = deque()
        self._last_event: int | None = None
        self._faults: list[str] = []

    def wire_lines(self) -> list[SerialLine]:
        return [self.line]

    # The link: one request in flight, its reply matched by sequence; events queued in the order they came.

    def _request(self, kind: int, payload: bytes = b"") -> bytes:
        self._seq = self._seq % 0x7FFF + 1  # 1 to 0x7FFF: 0 is the pump's for a refusal of a frame it could not read
        self.line.write_line(wire.encode(wire.Message(kind, self._seq, payload)))
        while True:
            message = self._receive(self.line.read_line())
            if message is None:
                continue
            if message.seq != self._seq:
                raise LineFault(f"pump: a reply to request {message.seq} while {self._seq} was in flight")
            if message.kind == wire.REFUSED:
                code, *text = wire.texts(message.payload) or ["?"]
                if code == "BAD_FRAME":  # the pump could not read what was sent: the link's fault, not the pump's
                    raise ProtocolError(f"pump: our frame was refused as unreadable: {' '.join(text)}")
                raise DeviceRefused("pump", code, " ".join(text))
            if message.kind != kind | 0x80:
                raise ProtocolError(f"pump: reply type {message.kind:#04x} to request type {kind:#04x}")
            return message.payload

    def _receive(self, frame: bytes) -> wire.Message | None:
        """A reply, or None for an event (queued, its number checked) or an empty frame (HDLC allows flags back to
        back)."""
        if frame == wire.FLAG:
            return None
        try:
            message = wire.decode(frame)
        except wire.WireError as exc:
            raise ProtocolError(f"pump: {exc} in {frame[:40].hex(' ')}") from None
        if message.kind not in wire.EVENTS:
            return message
        if self._last_event is not None:
            expected = wire.FIRST_EVENT if self._last_event == 0xFFFF else self._last_event + 1
            if message.seq == self._last_event:
                self._faults.append(f"event {message.seq:#06x} received twice")
                return None
            if message.seq != expected:
                self._faults.append(f"event counter jumped from {self._last_event:#06x} to {message.seq:#06x}")
        self._last_event = message.seq
        self._events.append(message)
        return None

    def check_link(self) -> None:
        if self._faults:
            raise LostEvent(f"pump: {'; '.join(self._faults)}")

    # The contract.

    def identify(self) -> PumpIdentity:
        with _malformed("IDENT reply"):
            model, serial, firmware, protocol = wire.texts(self._request(wire.IDENT))
        return PumpIdentity(model, serial, firmware, f"bpx/{protocol}")

    def _read_status(self) -> PumpStatus:
        with _malformed("STATUS reply"):
            return self._status(self._request(wire.STATUS))

    @staticmethod
    def _status(payload: bytes) -> PumpStatus:
        head = wire.STATUS_HEAD.unpack_from(payload)
        state, bolus, basal, left, reservoir, delivered, pressure, cgm, _t, count = head
        alarms = struct.unpack_from(f">{count}H", payload, wire.STATUS_HEAD.size)
        return PumpStatus(
            PumpState(wire.STATES[state]),
            basal,
            BolusState(wire.BOLUS_KINDS[bolus]),
            left,
            reservoir,
            delivered,
            tuple(str(a) for a in alarms),
            wire.optional(pressure),
            wire.optional(cgm),
        )

    def pump_time(self) -> float:
        with _malformed("STATUS reply"):
            return wire.STATUS_HEAD.unpack_from(self._request(wire.STATUS))[8]

    def _read_events(self) -> list[PumpEvent]:
        for frame in self.line.pending_lines():
            if self._receive(frame) is not None:
                raise LineFault("pump: a reply with no request in flight")
        out = []
        while self._events:
            message = self._events.popleft()
            with _malformed(f"event {message.seq:#06x}"):
                out.append(self._event(message))
        return out

    @staticmethod
    def _event(m: wire.Message) -> PumpEvent:
        word, p = wire.EVENTS[m.kind], m.payload
        if word == "ALARM":
            alarm_id, kind, priority, raised, pressure = wire.ALARM_EVENT.unpack(p)
            return Alarm(
                str(alarm_id),
                AlarmKind(wire.ALARM_KINDS[kind]),
                Priority(wire.PRIORITIES[priority]),
                raised,
                wire.optional(pressure),
            )
        if word in ("SUSPEND", "RESUME", "AUTO_EXIT"):
            reason, at = wire.REASON_EVENT.unpack(p)
            if word == "SUSPEND":
                return Suspended(SuspendReason(wire.SUSPEND_REASONS[reason]), at)
            if word == "RESUME":
                return Resumed(ResumeReason(wire.RESUME_REASONS[reason]), at)
            return AutoExit(AutoExitReason(wire.EXIT_REASONS[reason]), at)
        if word in ("BOLUS_DONE", "PRIME_DONE"):
            (amount,) = wire.AMOUNT.unpack(p)
            return BolusDone(amount) if word == "BOLUS_DONE" else PrimeDone(amount)
        if word == "AUTO_BASAL":
            rate, zone, predicted, iob, at = wire.AUTO_BASAL_EVENT.unpack(p)
            return AutoBasal(rate, AutoZone(wire.ZONES[zone]), wire.optional(predicted), wire.optional(iob), at)
        amount, predicted, iob, at = wire.AUTO_BOLUS_EVENT.unpack(p)
        return AutoBolus(amount, predicted, iob, at)

    def _acknowledge(self, alarm_id: str) -> None:
        self._request(wire.ACK, struct.pack(">H", int(alarm_id)))

    def set_basal(self, rate_U_per_h: float) -> None:
        self._request(wire.BASAL, struct.pack(">I", _milli(rate_U_per_h)))

    def set_temp_basal(self, rate_U_per_h: float, minutes: int) -> None:
        self._request(wire.TEMPBASAL, struct.pack(">IH", _milli(rate_U_per_h), int(minutes)))

    def bolus(self, amount_U: float, quick: bool = False) -> float:
        return _unpack(wire.AMOUNT, self._request(wire.BOLUS, struct.pack(">IB", _milli(amount_U), int(quick))))[0]

    def prime(self, amount_U: float) -> float:
        return _unpack(wire.AMOUNT, self._request(wire.PRIME, struct.pack(">I", _milli(amount_U))))[0]

    def cancel_bolus(self) -> float:
        return _unpack(wire.AMOUNT, self._request(wire.CANCEL))[0]

    def suspend(self) -> None:
        self._request(wire.SUSPEND)

    def resume(self) -> None:
        self._request(wire.RESUME)

    def stop(self) -> None:
        self._request(wire.STOP)

    def history_since(self, t_pump: float) -> tuple[int, float]:
        strokes, units = _unpack(wire.HISTORY_REPLY, self._request(wire.HISTORY, struct.pack(">d", t_pump)))
        return strokes, units

    def cgm_input(self, glucose_mg_dl: float, trend_mg_dl_min: float, age_s: float = 0.0) -> None:
        payload = struct.pack(">HhH", round(glucose_mg_dl), round(trend_mg_dl_min * 10), round(age_s))
        self._request(wire.CGM, payload)

    def auto_mode(self, on: bool | None = None) -> AutoModeState:
        switch = wire.AUTO_QUERY if on is None else wire.AUTO_ON if on else wire.AUTO_OFF
        active, basal, zone, iob = _unpack(wire.AUTO_STATE, self._request(wire.AUTO, bytes([switch])))
        with _malformed("AUTO reply"):
            return AutoModeState(bool(active), basal, None if zone == wire.NONE else AutoZone(wire.ZONES[zone]), iob)

    def configure_auto(self, settings: AutoSettings) -> None:
        values = (settings.target_mg_dl, settings.isf_mg_dl_per_U, settings.max_basal_U_per_h, settings.max_iob_U)
        self._request(wire.SETTINGS, bytes([wire.SET_AUTO]) + struct.pack(">ffff", *values))

    def set_occlusion_backoff(self, enabled: bool) -> None:
        self._request(wire.SETTINGS, bytes([wire.SET_BACKOFF, int(enabled)]))

    def configure_suspend(self, low_limit: int, before_low: bool, on_low: bool) -> None:
        payload = bytes([wire.SET_SUSPEND]) + struct.pack(">HBB", int(low_limit), int(before_low), int(on_low))
        self._request(wire.SETTINGS, payload)

    def close(self) -> None:
        self.line.close()


@contextmanager
def _malformed(what: str) -> Iterator[None]:
    """A payload that does not hold what its type says (too short, a code the pump does not define): the link's or
    the driver's fault, a ProtocolError, never a traceback."""
    try:
        yield
    except (struct.error, IndexError, ValueError) as exc:
        raise ProtocolError(f"pump: malformed {what}: {exc}") from None


def _unpack(layout: struct.Struct, payload: bytes) -> tuple:
    with _malformed("reply"):
        return layout.unpack(payload)


def _milli(units: float) -> int:
    """Units (or U/h) as the pump's milli-units, refusing what it cannot carry."""
    milli = round(units * 1000)
    if not (math.isfinite(units) and 0 <= milli <= 0xFFFFFFFF):
        raise ValueError(f"{units!r} cannot be sent to the BPX pump")
    return milli


class BpxLPump(BpxPump):
    """The BPX-L (registered as `bpx-l`): the BPX protocol on a model without CGM input, low-glucose suspend or
    automated delivery (its firmware, bpx_hil.firmware, refuses those requests as unknown)."""

    capabilities = frozenset(
        {
            Capability.LINE_PRESSURE,
            Capability.TEMP_BASAL,
            Capability.QUICK_BOLUS,
            Capability.OCCLUSION_BACKOFF,
            Capability.DELIVERY_HISTORY,
        }
    )
