"""`python -m hil.emulator.firmware_process [RIG.yaml]`: the reference pump's firmware (hil/emulator/pump.py) as a
process of its own on the plant channel (docs/plant-channel.md), in place of the one the emulator runs inside.

Why: the channel is where a pump maker's host build joins the plant, and the reference firmware is the one pump whose
verdicts are known in-process. Run across the channel it must get the same ones (tests/system/test_plant_channel.py),
so the channel carries a whole pump: its strokes, its pressure readings, its timers, its serial protocol. A rig runs
it with `emulator: {firmware: {module: hil.emulator.firmware_process}}`.

It is the same firmware on another plant: `EmulatedPump` with its own scheduler, moved by the plant's RUN and RX, its
motor and force sensor (the Plant of hil/emulator/plant_interface.py) PUSH, RETRACT and PRESSURE messages at its
scheduler's time, its serial line the text protocol the emulator's server speaks (hil/transport/frames.py, behind
the vendor session lock when the rig's `pump.session_key` is set). It reads the pump's parameters, defects and auto
mode design from the rig's `emulator:` section as the emulator does. The rig file comes from the environment: the
emulator started from a rig file (hil/emulator/__main__.py) puts that file's absolute path in $HIL_EMULATOR_RIG, the
rig the emulator itself runs, `extends:` and all (a path given as the argument goes first).
"""

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

from hil.emulation.options import EmulatorConfig
from hil.emulator import reference_serial
from hil.emulator.pump import EmulatedPump
from hil.emulator.reference_serial import LineSplitter
from hil.emulator.scheduler import Scheduler
from hil.emulator.seeding import streams
from hil.emulator.session_lock import SessionLock
from hil.rig.config import load_rig
from hil.transport.frames import Frame

CHANNEL = 1  # the plant channel's version spoken
RIG_ENV = "HIL_EMULATOR_RIG"  # the rig file the emulator runs, absolute: set by hil/emulator/__main__.py
DESCRIPTION = "the reference pump's firmware as a process on the emulator's plant channel"


class Channel:
    """The firmware's end of the plant channel: one message a line, in on `source`, out on `sink`."""

    def __init__(self, source: BinaryIO, sink: BinaryIO):
        self.source, self.sink = source, sink

    def send(self, line: str) -> None:
        self.sink.write(line.encode("ascii") + b"\n")
        self.sink.flush()

    def ask(self, line: str, answer: str) -> list[str]:
        """Send a message the plant answers; the answer's values."""
        self.send(line)
        reply = self.source.readline()
        if not reply:
            raise SystemExit(0)  # the plant closed the channel: the firmware ends
        words = reply.decode("ascii").split()
        if words[:1] != [answer]:
            raise SystemExit(
                f"reference firmware: the plant answered {line.split()[0]} with {reply[:80]!r}, not {answer}"
            )
        return words[1:]

    def exchanges(self) -> Iterator[list[str]]:
        """The plant's exchanges, split into words, until it closes the channel."""
        while line := self.source.readline():
            yield line.decode("ascii").split()


class ChannelPlant:
    """The fluid path across the channel (plant_interface.Plant): every stroke and every reading of the force sensor
    a message at the firmware's time, `now()`, answered by the plant."""

    def __init__(self, channel: Channel, now: Callable[[], float]):
        self.channel, self.now = channel, now

    def push(self, volume_uL: float) -> None:
        self.channel.ask(f"PUSH {self.now()!r} {volume_uL!r}", "PRESSURE")

    def retract(self, volume_uL: float) -> float:
        back, _ = self.channel.ask(f"RETRACT {self.now()!r} {volume_uL!r}", "RETRACTED")
        return float(back)

    @property
    def pressure_kPa(self) -> float:
        (pressure,) = self.channel.ask(f"PRESSURE {self.now()!r}", "PRESSURE")
        return float(pressure)


class Firmware:
    """The reference pump behind the channel: a RESET builds a fresh one, RUN runs its scheduler, RX is answered as
    the emulator's server answers its pump endpoint (hil/emulator/server.py: `_pump_line`, `_framed`,
    `_pump_event`), its replies and events sent as TX."""

    def __init__(self, config: EmulatorConfig, channel: Channel):
        self.config, self.channel = config, channel
        self.plant = ChannelPlant(channel, lambda: self.scheduler.now)
        key = config.pump.session_key
        self.session_lock = SessionLock(key, config.seed) if key else None  # the link's: a RESET leaves it open
        self._event_no = 0  # counts on across RESETs, as the server's does
        self._lines = LineSplitter(b"\n", self._answer)
        self.scheduler = Scheduler()
        self.pump = self._power_up(config.seed)

    def _power_up(self, seed: int) -> EmulatedPump:
        c = self.config
        seeded = streams(seed)
        return EmulatedPump(
            c.pump, c.defects, self.plant, self.scheduler, seeded.pump, self._emit, seeded.sensor, c.auto_mode
        )

    def exchange(self, message: list[str]) -> None:
        """One exchange the plant opened (its message's words), answered and ended."""
        match message:
            case ["HELLO", _]:
                self.channel.send(f"HELLO {CHANNEL} {self.config.pump.model}")
                return
            case ["RESET", seed, t]:
                self.scheduler = Scheduler(float(t))
                self.pump = self._power_up(int(seed))
            case ["RX", _, data]:  # at the time of the last RUN: a request is answered before the timers due now
                self._lines.feed(bytes.fromhex(data))
            case ["RUN", t]:
                self.scheduler.run_until(float(t), _unmoved)
            case _:
                raise SystemExit(f"reference firmware: '{' '.join(message)[:80]}' is no exchange it knows")
        self.channel.send(f"DONE {self.scheduler.now!r} {self._event_no}")

    def _answer(self, line: bytes) -> None:
        self._transmit(reference_serial.answer(line, self._handle))

    def _handle(self, frame: Frame) -> tuple[str, ...]:
        if self.session_lock is None:
            return self.pump.handle(frame)
        return self.session_lock.handle(frame, self.pump.handle)

    def _emit(self, kind: str, fields: dict) -> None:
        self._event_no += 1
        self._transmit(reference_serial.event(self._event_no, kind, fields))

    def _transmit(self, data: bytes) -> None:
        self.channel.send(f"TX {self.scheduler.now!r} {data.hex()}")


def _unmoved(t: float) -> None:
    """The scheduler's hook before each event: nothing here to move, the plant moves itself to each message's time."""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hil.emulator.firmware_process", description=DESCRIPTION)
    parser.add_argument(
        "rig",
        nargs="?",
        default=os.environ.get(RIG_ENV),
        help=f"rig file whose emulator: section configures the pump (default: ${RIG_ENV}, set by the emulator)",
    )
    rig = parser.parse_args().rig
    if not rig:
        parser.error(f"name the rig file: ${RIG_ENV} is not set (the emulator sets it when it starts a firmware)")
    channel = Channel(sys.stdin.buffer, sys.stdout.buffer)
    firmware = Firmware(EmulatorConfig.from_rig(load_rig(rig).data), channel)
    for message in channel.exchanges():
        firmware.exchange(message)


if __name__ == "__main__":
    main()
