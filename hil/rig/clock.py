"""Rig clocks. A test sleeps and waits on the rig clock only, so it runs unchanged on a bench (RealClock),
in simulated time against the emulator (SimClock), where a 72-hour test takes seconds, and in a rehearsal
against the emulator running free (RealClock scaled by its speed).

A sleep may be given `meanwhile`: the harness's own work (a model step, no rig I/O) to do while the rig's time
passes. On a bench it is done first and the rest of the time slept; in lockstep it runs while the emulator steps,
so the two overlap on two cores instead of taking turns."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

TICK_S = 0.1
# A deadline this near is reached: what is left of it is a rounding residue of the rig's times, and sleeping it would
# cost one more lockstep round trip and one more poll for nothing.
END_TOLERANCE_S = 1e-9
T = TypeVar("T")


class RealClock:
    """Monotonic wall time; sleeps in short wall ticks, running the tick hooks (e.g. draining the CAN bus).

    In a rehearsal (the emulator running free) it is the emulator's time as the harness sees it: `speed` rig
    seconds per wall second from `origin`, the emulator's time when the rig opened. Deadlines on I/O stay
    wall-clock deadlines, as on a bench."""

    def __init__(self, speed: float = 1.0, origin: float | None = None):
        self.on_tick: list[Callable[[], None]] = []
        self.speed = speed
        self._wall0 = time.monotonic()
        self._origin = self._wall0 if origin is None else origin

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._wall0) * self.speed

    def sleep(self, dt: float, meanwhile: Callable[[], None] | None = None) -> None:
        end = time.monotonic() + dt / self.speed
        if meanwhile is not None:
            meanwhile()
        while (remaining := end - time.monotonic()) > 0:
            time.sleep(min(TICK_S, remaining))
            for hook in self.on_tick:
                hook()

    def resync(self) -> None:
        """Nothing to do: real (and rehearsed) time runs on through an emulator RESET."""

    def sleep_until(self, t: float, meanwhile: Callable[[], None] | None = None) -> None:
        self.sleep(t - self.now(), meanwhile)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
        return _wait_for(self, predicate, timeout, poll)


class SimClock:
    """Lockstep with the emulator: sleep(dt) asks it to advance simulated time by dt."""

    def __init__(self, control):
        self.control = control
        self._now = control.now()
        self.on_tick: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def sleep(self, dt: float, meanwhile: Callable[[], None] | None = None) -> None:
        if dt > 0:
            self._now = self.control.advance(dt, meanwhile)
            for hook in self.on_tick:
                hook()
        elif meanwhile is not None:
            meanwhile()

    def sleep_until(self, t: float, meanwhile: Callable[[], None] | None = None) -> None:
        self.sleep(t - self._now, meanwhile)

    def resync(self) -> None:
        self._now = self.control.now()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
        return _wait_for(self, predicate, timeout, poll)


Clock = RealClock | SimClock  # what a test waits on: the same calls on a bench, in lockstep and in a rehearsal


@dataclass(frozen=True)
class Polled(Generic[T]):
    """What each poll returned, in order, and whether the condition polled for held by the end."""

    seen: list[T]
    met: bool


def poll_until(
    clock: Clock, poll: Callable[[], T], end_s: float, every_s: float, until: Callable[[T], bool] | None = None
) -> Polled[T]:
    """Poll now, then every `every_s` rig-seconds (the last sleep cut short to end at `end_s`), until `until` holds
    for what a poll returned or the rig's time reaches `end_s`; the one loop every procedure that watches the rig
    runs, so that a poll is never skipped at the end nor, in lockstep, taken after it (a real clock's sleep may
    overrun its end by a tick)."""
    seen = []
    while True:
        found = poll()
        seen.append(found)
        if until is not None and until(found):
            return Polled(seen, True)
        remaining = end_s - clock.now()
        if remaining <= END_TOLERANCE_S:
            return Polled(seen, False)
        clock.sleep(min(every_s, remaining))


def _wait_for(clock: Clock, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
    """True as soon as predicate() holds, False once `timeout` rig-seconds have passed without it."""
    return poll_until(clock, predicate, clock.now() + timeout, poll, until=bool).met
