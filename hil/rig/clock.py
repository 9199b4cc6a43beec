"""Rig clocks. A test sleeps and waits on the rig clock only, so it runs unchanged on a bench (RealClock)
and in simulated time against the emulator (SimClock), where a 72-hour test takes seconds."""

import time
from typing import Callable


TICK_S = 0.1


class RealClock:
    """Monotonic wall time; sleeps in short ticks, running the tick hooks (e.g. draining the CAN bus)."""

    def __init__(self):
        self.on_tick: list[Callable[[], None]] = []

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, dt: float) -> None:
        end = time.monotonic() + dt
        while (remaining := end - time.monotonic()) > 0:
            time.sleep(min(TICK_S, remaining))
            for hook in self.on_tick:
                hook()

    def sleep_until(self, t: float) -> None:
        self.sleep(t - self.now())

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

    def sleep(self, dt: float) -> None:
        if dt > 0:
            self._now = self.control.advance(dt)
            for hook in self.on_tick:
                hook()

    def sleep_until(self, t: float) -> None:
        self.sleep(t - self._now)

    def resync(self) -> None:
        self._now = self.control.now()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
        return _wait_for(self, predicate, timeout, poll)


def _wait_for(clock, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
    """True as soon as predicate() holds, False once `timeout` rig-seconds have passed without it."""
    deadline = clock.now() + timeout
    while True:
        if predicate():
            return True
        if clock.now() >= deadline:
            return False
        clock.sleep(min(poll, deadline - clock.now()))
