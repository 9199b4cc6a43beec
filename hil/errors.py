"""Error types shared by transports, drivers, procedures and analysis.

RigError means the rig itself is at fault (a silent or refusing instrument, a dead link, garbage on the wire, a
line lost or duplicated, a recording with holes): the test cannot judge the pump, later tests on the rig are
skipped as broken. DeviceRefused is the pump answering with a typed error: a fact about the device under test,
which a test may assert on. An instrument's refusal (balance, load cell, relay board) is never the pump's.
"""

from enum import StrEnum


class Refusal(StrEnum):
    """Why a scale or fixture refused a command (InstrumentRefused.code): always the rig's, never the pump's."""

    BUSY = "BUSY"  # not stable now, or busy: asking again may succeed
    OVERLOAD = "OVERLOAD"
    UNDERLOAD = "UNDERLOAD"
    OUT_OF_RANGE = "OUT_OF_RANGE"  # a zero or tare beyond the range the instrument allows (what is on the pan)
    NOT_ALLOWED = "NOT_ALLOWED"  # understood, but not allowed now or with this parameter
    NOT_UNDERSTOOD = "NOT_UNDERSTOOD"  # the command was not recognised
    TRANSMISSION = "TRANSMISSION"  # the instrument received faulty bytes


class RigError(Exception):
    """The rig cannot be trusted any more: what failed and where."""


class TransportError(RigError):
    """A link failed: the port vanished, or a deadline passed with no answer."""


class ProtocolError(RigError):
    """An instrument answered something the protocol does not allow."""


class LineFault(ProtocolError):
    """A line arrived that nobody asked for: a reply or an event received twice, or a reply to no pending
    request. The link duplicates or reorders lines, so nothing read from it since can be trusted."""


class LostEvent(TransportError):
    """An unsolicited event never arrived: its counter number was skipped, or the device's status shows what
    an event should have announced."""


class BlockNotHeld(RigError):
    """The occlusion valve acknowledged a block the balance shows did not hold: the fixture's fault, not the pump's."""


class InstrumentRefused(RigError):
    """A measuring instrument or fixture answered with a typed error (a balance's overload, "not stable now",
    a transmission error): `code` names it, e.g. Refusal.BUSY for a balance that is not stable yet (the
    emulator's control channel, an instrument of the emulated rig only, gives its protocol's own code)."""

    def __init__(self, instrument: str, code: Refusal | str, message: str = ""):
        self.instrument, self.code, self.message = instrument, code, message
        super().__init__(f"{instrument} refused: {code} {message}".rstrip())


class InstrumentUnstable(RigError):
    """A balance or load cell did not settle within its deadline (draught, vibration, a touching line)."""


class BalanceNotCoupled(RigError):
    """The balance does not weigh what the pump delivers (decoupled, stuck, or a unit off by a factor): nothing it
    weighs can judge the pump."""


class ReservoirNotFitted(RigError):
    """The reservoir fixture said a reservoir was fitted, and the pump does not count what it holds (a fit that did not
    happen, a fill not made as asked): nothing the test then weighs judges the pump's reservoir."""


class StartingStateError(RigError):
    """The pump cannot be brought to, or shown in, the state a test starts from (hil.procedures.starting_state)."""


class ClockMismatch(RigError):
    """The pump's clock did not keep the rig's time over a test (hil.procedures.pump_clock)."""


class RecordingGap(RigError):
    """A recording whose windows cannot be timed: holes longer than the analysis may bridge, or sample times
    that are not finite and increasing (a clock fault)."""


class DeviceRefused(Exception):
    """The pump understood the command and answered with a typed error."""

    def __init__(self, device: str, code: str, message: str = ""):
        self.device, self.code, self.message = device, code, message
        super().__init__(f"{device} refused: {code} {message}".rstrip())
