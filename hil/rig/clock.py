"""Rig clocks. A test sleeps and waits on the rig clock only, so it runs unchanged on a bench (RealClock),
in simulated time against the emulator (SimClock), where a 72-hour test takes seconds, and in a rehearsal
against the emulator running free (RealClock scaled by its speed).

A sleep may be given `meanwhile`: the harness's own work (a model step, no rig I/O) to do while the rig's time
passes. On a bench it is done first and the rest of the time slept; in lockstep it runs while the emulator steps,
so the two overlap on two cores instead of taking turns."""

import time
from collections.abc import Callable

TICK_S = 0.1


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


def _wait_for(clock, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
    """True as soon as predicate() holds, False once `timeout` rig-seconds have passed without it."""
    deadline = clock.now() + timeout
    while True:
        if predicate():
            return True
        if clock.now() >= deadline:
            return False
        clock.sleep(min(poll, deadline - clock.now()))
