"""Does the pump keep the rig's time? Its clock (`pump_time()`) is read at each test's start and end, each reading
bracketed by the rig clock, and its elapsed time compared with the rig's. A pump on a time of its own (running free
while the rig steps the emulator's lockstep clock, or at another speed than a rehearsal's) makes every duration the
tests measure meaningless: a rig ERROR (ClockMismatch), never a finding about the pump."""

from dataclasses import dataclass

from hil.errors import ClockMismatch
from hil.rig.model import PumpClock
from hil.rig.rig import Rig


@dataclass(frozen=True)
class ClockReading:
    """The pump's clock, read between two readings of the rig's."""

    rig_before_s: float
    pump_s: float
    rig_after_s: float


def read(rig: Rig) -> ClockReading:
    before = rig.clock.now()
    pump_s = rig.pump.pump_time()
    return ClockReading(before, pump_s, rig.clock.now())


def mismatch(start: ClockReading, end: ClockReading, tolerance: PumpClock) -> str | None:
    """What is wrong when the pump's elapsed time lies outside the rig's (its bracket, widened by the tolerance);
    None when it lies within."""
    pump_elapsed = end.pump_s - start.pump_s
    shortest = end.rig_before_s - start.rig_after_s
    longest = end.rig_after_s - start.rig_before_s
    allowed = tolerance.tolerance_s + tolerance.rate_ppm * 1e-6 * longest
    if shortest - allowed <= pump_elapsed <= longest + allowed:
        return None
    rig_elapsed = f"{shortest:.1f}" if longest - shortest < 0.05 else f"{shortest:.1f} to {longest:.1f}"
    return (
        f"the pump's clock advanced {pump_elapsed:.1f} s while the rig's advanced {rig_elapsed} s "
        f"(allowed {allowed:.1f} s more or less): the pump does not keep the rig's time (a pump running on its own "
        "time under clock: sim, a rehearsal speed it does not run at, or a pump clock that is off)"
    )


def restarted(start: ClockReading, end: ClockReading, tolerance: PumpClock) -> str | None:
    """What happened when the pump's clock went back (beyond the tolerance) between the readings; else None."""
    if end.pump_s >= start.pump_s - tolerance.tolerance_s:
        return None
    return (
        f"the pump's clock went back from {start.pump_s:.1f} s to {end.pump_s:.1f} s during the test: the pump "
        "restarted, or its clock was set"
    )


class PumpRestarted(AssertionError):
    """The pump's clock went back during a test: the pump restarted (or its clock was set), a finding about it."""


def check(rig: Rig, start: ClockReading) -> ClockReading:
    """Read the clocks again; PumpRestarted when the pump's clock went back since `start`, ClockMismatch when its
    elapsed time is not the rig's."""
    end = read(rig)
    tolerance = rig.config.pump_clock
    went_back = restarted(start, end, tolerance)
    if went_back:
        raise PumpRestarted(went_back)
    problem = mismatch(start, end, tolerance)
    if problem:
        raise ClockMismatch(problem)
    return end
