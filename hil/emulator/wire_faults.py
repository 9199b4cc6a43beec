"""Wire faults in the emulator's output: what a noisy cable, a failing UART or a hung instrument does to the lines
a device sends, injected per endpoint so that CI can prove the harness never turns them into a PASS.

A "line" is one transmission of the endpoint: a reply, an event, a streamed reading, a CAN frame or an slcan
acknowledgement. Faults are fully specified (no randomness), so a campaign is reproducible.
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Endpoint = Literal["pump", "balance", "balance-lost", "can"]  # the control channel is never faulted
TERMINATORS = b"\r\n"


class WireFaultKind(StrEnum):
    CORRUPT = "corrupt"  # flip one bit of one byte; the terminator is kept
    DROP = "drop"  # the line is not sent
    DUPLICATE = "duplicate"  # the line is sent twice
    TRUNCATE = "truncate"  # only the first half of the line is sent, without its terminator
    STALL = "stall"  # the line and all later output of the endpoint are held back `seconds` wall seconds
    SILENT = "silent"  # nothing is sent from then on (or for `span_s`)


class WireFault(BaseModel):
    """One fault on one endpoint. It applies from `at_s` (in a rig file: simulated seconds after each RESET; in
    the control command FAULT: the emulator's clock), after letting `skip` lines through unchanged, to the next
    `count` lines, or to every line within `span_s` simulated seconds; by default to one line, and for SILENT to
    every line from then on. `skip` aims a fault at one line of an exchange whose lines share a simulated time."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)

    endpoint: Endpoint
    kind: Annotated[WireFaultKind, Field(strict=False)]  # a rig file names it as a string
    at_s: Annotated[float, Field(ge=0, le=1e7)] = 0.0
    count: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    span_s: Annotated[float, Field(gt=0, le=1e7)] | None = None
    skip: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    seconds: Annotated[float, Field(gt=0, le=600)] | None = None  # STALL only: wall seconds output is held
    # CORRUPT: the byte (an index into the line without its terminator, from its end if negative, modulo its
    # length; default the middle) and the bit (default 7: a non-ASCII byte, as a UART framing error leaves).
    byte: Annotated[int, Field(ge=-4096, le=4096)] | None = None
    bit: Annotated[int, Field(ge=0, le=7)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "WireFault":
        if self.count is not None and self.span_s is not None:
            raise ValueError("give count or span_s, not both")
        if (self.seconds is not None) != (self.kind is WireFaultKind.STALL):
            raise ValueError("seconds is required for a stall and only allowed there")
        if self.kind is not WireFaultKind.CORRUPT and (self.byte is not None or self.bit is not None):
            raise ValueError("byte and bit are only allowed for corrupt")
        if self.kind is WireFaultKind.SILENT and self.count is not None:
            raise ValueError("silent takes span_s (or nothing: silent from then on), not count")
        return self


@dataclass
class _Armed:
    fault: WireFault
    start: float  # simulated time it applies from
    end: float  # simulated time it applies until (exclusive)
    left: float  # lines still to affect (inf: bounded by time only)
    skip: int  # lines still to let through before the first affected one


class LineFaults:
    """The faults armed on one endpoint. Each line sent is changed by the first armed fault that is due."""

    def __init__(self):
        self._armed: list[_Armed] = []

    def arm(self, fault: WireFault, start: float) -> int:
        """Arm `fault` from simulated time `start`; returns how many are armed on this endpoint."""
        end = start + fault.span_s if fault.span_s is not None else math.inf
        left: float
        if fault.count is not None:
            left = fault.count
        else:
            left = math.inf if fault.span_s is not None or fault.kind is WireFaultKind.SILENT else 1
        self._armed.append(_Armed(fault, start, end, left, fault.skip))
        return len(self._armed)

    def clear(self) -> int:
        """Disarm every fault; returns how many were armed."""
        cleared, self._armed = len(self._armed), []
        return cleared

    def apply(self, line: bytes, t: float) -> tuple[list[bytes], float]:
        """What goes on the wire for `line` sent at simulated time t, and for how many wall seconds the
        endpoint's output is to be held back from now (0: not at all)."""
        self._armed = [a for a in self._armed if a.left > 0 and t < a.end]
        armed = next((a for a in self._armed if a.start <= t), None)
        if armed is None or not line:
            return [line], 0.0
        if armed.skip:
            armed.skip -= 1
            return [line], 0.0
        armed.left -= 1
        fault = armed.fault
        body = line.rstrip(TERMINATORS)
        match fault.kind:
            case WireFaultKind.CORRUPT:
                return [_flip(line, body, fault)], 0.0
            case WireFaultKind.DROP | WireFaultKind.SILENT:
                return [], 0.0
            case WireFaultKind.DUPLICATE:
                return [line, line], 0.0
            case WireFaultKind.TRUNCATE:
                return [body[: len(body) // 2]], 0.0
            case WireFaultKind.STALL:
                assert fault.seconds is not None  # required for a stall (WireFault._consistent)
                return [line], fault.seconds
        raise AssertionError(fault.kind)


def _flip(line: bytes, body: bytes, fault: WireFault) -> bytes:
    """Flip one bit of one byte of the body (of the whole line if it has none: a bare slcan CR)."""
    target = body or line
    index = (len(target) // 2 if fault.byte is None else fault.byte) % len(target)
    flipped = bytearray(line)
    flipped[index] ^= 1 << (7 if fault.bit is None else fault.bit)
    return bytes(flipped)
