"""Occlusion valves: the stopcock between the pump's line and the collecting vessel (IEC 60601-2-24
Fig. 201.112). Three implementations behind one interface (close/open):

* EmulatorValve — the emulator's control channel;
* RelayBoardValve — a serial relay board switching a normally-open solenoid valve (docs/protocol.md §4);
* OperatorPromptValve — a person turns the stopcock when asked; the question, the answer and their times
  are kept as evidence, and no answer within the timeout is a rig error.
"""

import os
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, TextIO

from pydantic import Field

from hil.drivers.registry import DeviceKind, DriverOptions, RigContext, SerialOptions
from hil.errors import ProtocolError, RigError
from hil.transport.serial_line import SerialLine

RelayChannel = Annotated[int, Field(ge=0, le=255, description="the relay board's channel number")]
PromptTimeout = Annotated[float, Field(gt=0, le=86_400, description="seconds the operator has to confirm")]


class EmulatorValve:
    """The emulator's occlusion valve, on its control channel (registered as `emulator-valve`)."""

    device = DeviceKind.VALVE

    class Options(DriverOptions):
        """No options: the valve is the emulator's."""

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "EmulatorValve":
        return cls(rig.emulator())

    def __init__(self, control):
        self.control = control

    def close(self) -> None:
        self.control.valve(open_=False)

    def open(self) -> None:
        self.control.valve(open_=True)

    def disconnect(self) -> None:
        """The control channel is the rig's, which closes it."""


class RelayBoard:
    """`SET <channel> ON|OFF` → `OK <channel> ON|OFF` (docs/protocol.md §4)."""

    def __init__(self, port: str, *, baudrate: int = 9600, timeout_s: float = 2.0):
        self.line = SerialLine(port, baudrate=baudrate, timeout_s=timeout_s, name="relay board")

    def set(self, channel: int, on: bool) -> None:
        state = "ON" if on else "OFF"
        self.line.write_line(f"SET {channel} {state}\r\n".encode("ascii"))
        reply = self.line.read_line().decode("ascii", errors="replace").strip()
        if reply != f"OK {channel} {state}":
            raise ProtocolError(f"relay board: expected 'OK {channel} {state}', got {reply!r}")


class RelayBoardValve:
    """A normally-open solenoid valve on one relay channel: ON energises it, which closes the line (registered as
    `relay-board-valve`)."""

    device = DeviceKind.VALVE

    class Options(SerialOptions):
        channel: RelayChannel

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "RelayBoardValve":
        return cls(rig.port(options.port), options.channel, baudrate=options.baudrate, timeout_s=options.timeout_s)

    def __init__(self, port: str, channel: int, *, baudrate: int = 9600, timeout_s: float = 2.0):
        self.board = RelayBoard(port, baudrate=baudrate, timeout_s=timeout_s)
        self.line = self.board.line
        self.channel = channel

    def close(self) -> None:
        self.board.set(self.channel, True)

    def open(self) -> None:
        self.board.set(self.channel, False)

    def disconnect(self) -> None:
        self.line.close()


@dataclass
class PromptRecord:
    question: str
    asked_s: float  # wall clock (time.time())
    answer: str | None
    answered_s: float | None


@dataclass
class OperatorPromptValve:
    """Asks the operator to turn the stopcock and waits for them to confirm with Enter (registered as
    `operator-prompt-valve`)."""

    device: ClassVar[DeviceKind] = DeviceKind.VALVE
    prompts_operator: ClassVar[bool] = True

    class Options(DriverOptions):
        timeout_s: PromptTimeout = 300.0

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "OperatorPromptValve":
        return cls(timeout_s=options.timeout_s)

    timeout_s: float = 300.0
    ask: TextIO = field(default_factory=lambda: sys.stderr)
    answers: TextIO = field(default_factory=lambda: sys.stdin)
    clock: Callable[[], float] = time.time
    records: list[PromptRecord] = field(default_factory=list)

    def prompt(self, question: str) -> None:
        record = PromptRecord(question, self.clock(), None, None)
        self.records.append(record)
        self.ask.write(f"\n>>> OPERATOR: {question} Press Enter when done (timeout {self.timeout_s:g} s): ")
        self.ask.flush()
        record.answer = self._read_answer(question).strip()
        record.answered_s = self.clock()

    def _read_answer(self, question: str) -> str:
        """One line from the answers' descriptor, unbuffered, so a line typed ahead waits for the next prompt."""
        fd, deadline, answer = self.answers.fileno(), time.monotonic() + self.timeout_s, b""
        while not answer.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise RigError(f"operator did not confirm '{question}' within {self.timeout_s:g} s")
            chunk = os.read(fd, 1)
            if not chunk:
                raise RigError(f"operator input closed before confirming '{question}'")
            answer += chunk
        return answer.decode(errors="replace")

    def close(self) -> None:
        self.prompt("CLOSE the occlusion stopcock between the pump line and the collecting vessel.")

    def open(self) -> None:
        self.prompt("OPEN the occlusion stopcock between the pump line and the collecting vessel.")

    def disconnect(self) -> None:
        """Nothing to release: the terminal is the operator's."""
