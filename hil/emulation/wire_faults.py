"""Wire faults as a rig file and the emulator's control channel name them: the fault, its endpoint, when and to which
lines it applies. The emulator applies them to its output (hil/emulator/line_faults.py); the harness arms them
through the control channel (hil/drivers/emulator_control.py) and validates a rig file's list."""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Endpoint = Literal["pump", "balance", "balance-lost", "can"]  # the control channel is never faulted


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
