"""`python -m bpx_hil.firmware`: the BPX-L pump's firmware as a host build, for hil's plant channel.

The BPX-L is the BPX family's model without CGM input or automated delivery. This is its firmware, not hil's
reference pump: its own lead-screw mechanics (0.025 U steps), its own bolus speeds, its own occlusion detector and
back-off, its own binary protocol (bpx_hil.wire) on its serial line. It imports nothing of hil: like a firmware
built for the host, it sees the world only through the plant channel (hil's docs/plant-channel.md) on its standard
input and output: its clock is the times the plant gives it, its motor's steps are PUSH messages, its pressure
sensor is a PRESSURE message, its UART is RX and TX. A rig runs it with `emulator: {firmware: {module:
bpx_hil.firmware}}` (rigs/emulator-bpx-l.yaml), and the project's plant weighs what it delivers.

Its figures are the BPX-L's design, stated as its labelling in claims/bpx-l.yaml (a fictional pump of this example).
"""

import argparse
import heapq
import itertools
import math
import random
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bpx_hil import wire

CHANNEL = 1  # the plant channel's version this firmware speaks
MODEL, SERIAL, FIRMWARE_VERSION, PROTOCOL = "BPX-L", "BPXL-000117", "2.3.1", "1"
UL_PER_U = 10.0  # U-100
STEP_U = 0.025  # one lead-screw step
STEP_CV = 0.04  # the scatter of one step's volume, from the BPX-L's bench characterisation
INCREMENT_U = 0.025  # rates and amounts are set in whole steps
BASAL_RANGE_U_PER_H = (0.05, 30.0)
BOLUS_RANGE_U = (0.05, 30.0)
BOLUS_SPEED_U_PER_MIN, QUICK_SPEED_U_PER_MIN, PRIME_SPEED_U_PER_MIN = 2.0, 12.0, 12.0
CARTRIDGE_U = 300.0
OCCLUSION_KPA = 80.0  # the force sensor's alarm threshold, as line pressure (a build option: --occlusion-threshold-kPa)
BACKOFF_U = 2.0  # the plunger drawn back after an occlusion alarm, when the back-off is on
TEMP_MINUTES = (1, 1440)


class Refusal(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message


class Plant:
    """The firmware's end of the plant channel: its motor, its pressure sensor and its UART, at the time `now`."""

    def __init__(self) -> None:
        self.now = 0.0

    @staticmethod
    def send(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _ask(self, line: str, answer: str) -> list[str]:
        self.send(line)
        word, *values = sys.stdin.readline().split()
        if word != answer:
            raise SystemExit(f"BPX-L firmware: the plant answered {line.split()[0]} with {word}, not {answer}")
        return values

    def push(self, volume_uL: float) -> float:
        """A step of the motor; the line pressure after it (kPa)."""
        return float(self._ask(f"PUSH {self.now!r} {volume_uL!r}", "PRESSURE")[0])

    def retract(self, volume_uL: float) -> float:
        return float(self._ask(f"RETRACT {self.now!r} {volume_uL!r}", "RETRACTED")[1])

    def pressure(self) -> float:
        return float(self._ask(f"PRESSURE {self.now!r}", "PRESSURE")[0])

    def transmit(self, message: wire.Message) -> None:
        self.send(f"TX {self.now!r} {wire.encode(message).hex()}")


@dataclass
class Alarm:
    id: int
    kind: str
    raised_s: float
    acknowledged: bool = False


class Timers:
    """The firmware's timers on the plant's clock; a cancelled one is skipped when due."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, list]] = []
        self._order = itertools.count()

    def at(self, t: float, action: Callable[[], None]) -> list:
        entry = [action]
        heapq.heappush(self._queue, (t, next(self._order), entry))
        return entry

    @staticmethod
    def cancel(entry: list | None) -> None:
        if entry:
            entry.clear()

    def run_until(self, plant: Plant, target: float) -> None:
        while self._queue and self._queue[0][0] <= target:
            t, _, entry = heapq.heappop(self._queue)
            if entry:
                plant.now = t
                entry[0]()
        plant.now = target


class Pump:
    """The BPX-L after a power-up with a new cartridge: suspended, no basal programmed, no alarms."""

    def __init__(self, plant: Plant, seed: int, next_event: Callable[[], int], occlusion_kPa: float = OCCLUSION_KPA):
        self.plant, self.timers, self.rng, self.next_event = plant, Timers(), random.Random(seed), next_event
        self.occlusion_kPa = occlusion_kPa
        self.state = "SUSPENDED"
        self.profile_rate = 0.0
        self.temp_rate: float | None = None
        self.temp_timer: list | None = None
        self.basal_timer: list | None = None
        self.bolus_timers: list[list] = []
        self.bolus_kind, self.bolus_left_U = "IDLE", 0.0
        self.reservoir_U, self.delivered_U = CARTRIDGE_U, 0.0
        self.backoff = True
        self.alarms: list[Alarm] = []
        self.step_times: list[float] = []  # the delivery history: every step of basal or bolus

    # -- mechanics ------------------------------------------------------------------------------------------
    def _step(self, counted: bool) -> None:
        if self.reservoir_U < STEP_U - 1e-9:
            self._alarm("RESERVOIR_EMPTY")
            return
        volume = STEP_U * UL_PER_U * max(0.0, 1 + STEP_CV * self.rng.gauss(0.0, 1.0))
        pressure = self.plant.push(volume)
        self.reservoir_U -= STEP_U
        if counted:
            self.delivered_U += STEP_U
            self.step_times.append(self.plant.now)
        if pressure >= self.occlusion_kPa:
            self._occlusion(pressure)

    def _occlusion(self, pressure: float) -> None:
        if self._alarm("OCCLUSION", pressure) and self.backoff:
            self.plant.retract(BACKOFF_U * UL_PER_U)

    def _alarm(self, kind: str, pressure: float = math.nan) -> bool:
        """Raise a HIGH alarm that stops delivery; False while one of its kind is still unacknowledged."""
        if any(a.kind == kind and not a.acknowledged for a in self.alarms):
            return False
        alarm = Alarm(len(self.alarms) + 1, kind, self.plant.now)
        self.alarms.append(alarm)
        self.state = "ALARM"
        self._cancel_bolus()
        self._schedule_basal()
        payload = wire.ALARM_EVENT.pack(
            alarm.id, wire.ALARM_KINDS.index(kind), wire.PRIORITIES.index("HIGH"), alarm.raised_s, pressure
        )
        self._event("ALARM", payload)
        return True

    def _event(self, word: str, payload: bytes) -> None:
        self.plant.transmit(wire.Message(wire.EVENT_TYPES[word], self.next_event(), payload))

    @property
    def rate(self) -> float:
        return self.profile_rate if self.temp_rate is None else self.temp_rate

    def _schedule_basal(self) -> None:
        """The next basal step a whole step's period from now (the pump counts a step before it moves)."""
        Timers.cancel(self.basal_timer)
        self.basal_timer = None
        if self.state == "RUNNING" and self.rate > 0:
            self.basal_timer = self.timers.at(self.plant.now + STEP_U / self.rate * 3600.0, self._basal_step)

    def _basal_step(self) -> None:
        self.basal_timer = None
        self._step(counted=True)
        self._schedule_basal()

    def _train(self, kind: str, amount_U: float, speed_U_per_min: float) -> float:
        steps = round(amount_U / STEP_U)
        period = STEP_U / speed_U_per_min * 60.0
        start = self.plant.now
        self.bolus_kind, self.bolus_left_U = kind, steps * STEP_U

        def step() -> None:
            self.bolus_left_U -= STEP_U
            self._step(counted=kind == "BOLUS")

        def done() -> None:
            self.bolus_timers, self.bolus_kind, self.bolus_left_U = [], "IDLE", 0.0
            self._event(f"{kind}_DONE", wire.AMOUNT.pack(amount_U))

        self.bolus_timers = [self.timers.at(start + k * period, step) for k in range(steps)]
        self.bolus_timers.append(self.timers.at(start + steps * period, done))
        return steps * period

    def _cancel_bolus(self) -> float:
        left = self.bolus_left_U
        for timer in self.bolus_timers:
            Timers.cancel(timer)
        self.bolus_timers, self.bolus_kind, self.bolus_left_U = [], "IDLE", 0.0
        return left

    def fit(self, fill_U: float) -> None:
        """A new cartridge holding `fill_U` fitted: delivery stopped (as STOP), the count from the fill, the old
        cartridge's empty alarm acknowledged."""
        if self.state == "RUNNING":
            self.state = "SUSPENDED"
        self._cancel_bolus()
        self.reservoir_U = fill_U
        for alarm in self.alarms:
            if alarm.kind == "RESERVOIR_EMPTY":
                alarm.acknowledged = True
        if self.state == "ALARM" and all(a.acknowledged for a in self.alarms):
            self.state = "SUSPENDED"
        self._schedule_basal()

    # -- requests ---------------------------------------------------------------------------------------------
    def request(self, kind: int, p: bytes) -> bytes:
        match kind:
            case wire.IDENT:
                return b"".join(wire.text(v) for v in (MODEL, SERIAL, FIRMWARE_VERSION, PROTOCOL))
            case wire.STATUS:
                return self._status()
            case wire.BASAL:
                (milli,) = struct.unpack(">I", p)
                self.profile_rate = 0.0 if milli == 0 else _amount(milli, BASAL_RANGE_U_PER_H, "basal rate")
                self._schedule_basal()
                return b""
            case wire.TEMPBASAL:
                return self._temp_basal(*struct.unpack(">IH", p))
            case wire.BOLUS:
                milli, quick = struct.unpack(">IB", p)
                amount = _amount(milli, BOLUS_RANGE_U, "bolus")
                if self.state != "RUNNING" or self.bolus_kind != "IDLE":
                    raise Refusal("NOT_ALLOWED", f"pump is {self.state}, {self.bolus_kind}")
                if amount > self.reservoir_U:
                    raise Refusal("NOT_ALLOWED", f"the cartridge holds {self.reservoir_U:.2f} U")
                speed = QUICK_SPEED_U_PER_MIN if quick else BOLUS_SPEED_U_PER_MIN
                return wire.AMOUNT.pack(self._train("BOLUS", amount, speed))
            case wire.PRIME:
                (milli,) = struct.unpack(">I", p)
                amount = _amount(milli, (INCREMENT_U, BOLUS_RANGE_U[1]), "prime")
                if self.state == "ALARM" or self.bolus_kind != "IDLE":
                    raise Refusal("NOT_ALLOWED", f"pump is {self.state}, {self.bolus_kind}")
                return wire.AMOUNT.pack(self._train("PRIME", amount, PRIME_SPEED_U_PER_MIN))
            case wire.CANCEL:
                return wire.AMOUNT.pack(self._cancel_bolus())
            case wire.SUSPEND | wire.STOP:
                if self.state == "RUNNING":
                    self.state = "SUSPENDED"
                self._cancel_bolus()
                self._schedule_basal()
                return b""
            case wire.RESUME:
                if any(not a.acknowledged for a in self.alarms):
                    raise Refusal("ALARM_ACTIVE", "acknowledge the active alarms first")
                self.state = "RUNNING"
                self._schedule_basal()
                return b""
            case wire.ACK:
                return self._acknowledge(*struct.unpack(">H", p))
            case wire.HISTORY:
                (since,) = struct.unpack(">d", p)
                steps = sum(1 for t in self.step_times if t >= since)
                return wire.HISTORY_REPLY.pack(steps, steps * STEP_U)
            case wire.SETTINGS if p[:1] == bytes([wire.SET_BACKOFF]) and p[1:] in (b"\x00", b"\x01"):
                self.backoff = p[1] == 1
                return b""
        raise Refusal("UNKNOWN_COMMAND", f"the BPX-L has no request type {kind:#04x} with that payload")

    def _temp_basal(self, milli: int, minutes: int) -> bytes:
        if minutes and not TEMP_MINUTES[0] <= minutes <= TEMP_MINUTES[1]:
            raise Refusal("BAD_ARGUMENT", f"duration {minutes} min outside 1-1440")
        rate = 0.0 if milli == 0 or not minutes else _amount(milli, BASAL_RANGE_U_PER_H, "temporary rate")
        Timers.cancel(self.temp_timer)
        self.temp_timer, self.temp_rate = None, None
        if minutes:
            self.temp_rate = rate
            self.temp_timer = self.timers.at(self.plant.now + minutes * 60.0, self._end_temp)
        self._schedule_basal()
        return b""

    def _end_temp(self) -> None:
        self.temp_timer, self.temp_rate = None, None
        self._schedule_basal()

    def _acknowledge(self, alarm_id: int) -> bytes:
        for alarm in self.alarms:
            if alarm.id == alarm_id:
                alarm.acknowledged = True
                if self.state == "ALARM" and all(a.acknowledged for a in self.alarms):
                    self.state = "SUSPENDED"
                return b""
        raise Refusal("BAD_ARGUMENT", f"no alarm {alarm_id}")

    def _status(self) -> bytes:
        active = [a.id for a in self.alarms if not a.acknowledged]
        head = wire.STATUS_HEAD.pack(
            wire.STATES.index(self.state),
            wire.BOLUS_KINDS.index(self.bolus_kind),
            self.rate,
            self.bolus_left_U,
            self.reservoir_U,
            self.delivered_U,
            self.plant.pressure(),
            math.nan,  # no CGM input on the BPX-L
            self.plant.now,
            len(active),
        )
        return head + b"".join(struct.pack(">H", a) for a in active)


def _amount(milli: int, limits: tuple[float, float], what: str) -> float:
    """Milli-units as units: within the limits, in whole steps."""
    value = milli / 1000
    steps = value / INCREMENT_U
    if not limits[0] - 1e-9 <= value <= limits[1] + 1e-9 or abs(steps - round(steps)) > 1e-6:
        raise Refusal("BAD_ARGUMENT", f"{what} {value:g} outside {limits[0]:g}-{limits[1]:g} in steps of {INCREMENT_U}")
    return value


class Firmware:
    """The main loop: the plant's exchanges in, the pump's answers out; the UART's bytes framed by HDLC flags."""

    def __init__(self, occlusion_kPa: float = OCCLUSION_KPA) -> None:
        self.plant = Plant()
        self.occlusion_kPa = occlusion_kPa
        self._event_no = wire.FIRST_EVENT - 1  # counts on across power cycles, wrapping after 0xFFFF
        self.pump = Pump(self.plant, 0, self._next_event, occlusion_kPa)
        self._rx = b""

    def _next_event(self) -> int:
        self._event_no = wire.FIRST_EVENT if self._event_no >= 0xFFFF else self._event_no + 1
        return self._event_no

    def exchange(self, word: str, args: list[str]) -> None:
        match word:
            case "HELLO":
                self.plant.send(f"HELLO {CHANNEL} {MODEL}")
                return
            case "RESET":
                self.plant.now = float(args[1])
                self.pump = Pump(self.plant, int(args[0]), self._next_event, self.occlusion_kPa)
                self._rx = b""
            case "RX":
                self.plant.now = float(args[0])
                self._receive(bytes.fromhex(args[1]))
            case "RUN":
                self.pump.timers.run_until(self.plant, float(args[0]))
            case "FIT":
                self.plant.now = float(args[1])
                self.pump.fit(float(args[0]) / UL_PER_U)
            case _:
                raise SystemExit(f"BPX-L firmware: '{word}' is no exchange of the plant channel")
        self.plant.send(f"DONE {self.plant.now!r}")

    def _receive(self, data: bytes) -> None:
        self._rx += data
        while wire.FLAG in self._rx:
            frame, self._rx = self._rx.split(wire.FLAG, 1)
            if frame:
                self._answer(frame)

    def _answer(self, frame: bytes) -> None:
        try:
            request = wire.decode(frame)
        except wire.WireError as exc:
            self.plant.transmit(wire.Message(wire.REFUSED, 0, wire.text("BAD_FRAME") + wire.text(str(exc))))
            return
        try:
            reply = wire.Message(request.kind | 0x80, request.seq, self.pump.request(request.kind, request.payload))
        except Refusal as exc:
            reply = wire.Message(wire.REFUSED, request.seq, wire.text(exc.code) + wire.text(exc.message))
        except (struct.error, IndexError):
            reply = wire.Message(wire.REFUSED, request.seq, wire.text("BAD_ARGUMENT") + wire.text("payload size"))
        self.plant.transmit(reply)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bpx_hil.firmware", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--occlusion-threshold-kPa",
        type=float,
        default=OCCLUSION_KPA,
        help="the occlusion alarm's line pressure (a build set above what the line reaches is a seeded defect)",
    )
    firmware = Firmware(parser.parse_args().occlusion_threshold_kPa)
    for line in sys.stdin:  # the plant closes our standard input when it ends
        word, *args = line.split()
        firmware.exchange(word, args)


if __name__ == "__main__":
    main()
