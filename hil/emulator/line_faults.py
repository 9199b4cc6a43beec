"""Wire faults in the emulator's output: what a noisy cable, a failing UART or a hung instrument does to the lines
a device sends, injected per endpoint so that CI can prove the harness never turns them into a PASS.

A "line" is one transmission of the endpoint: a reply, an event, a streamed reading, a CAN frame or an slcan
acknowledgement. Faults are fully specified (no randomness), so a campaign is reproducible.
"""

import math
from dataclasses import dataclass

from hil.emulation.wire_faults import WireFault, WireFaultKind

TERMINATORS = b"\r\n"


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
