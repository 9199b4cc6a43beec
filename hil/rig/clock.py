"""Rig clocks. A test sleeps and waits on the rig clock only, so it runs unchanged on a bench (RealClock),
in simulated time against the emulator (SimClock), where a 72-hour test takes seconds, and in a rehearsal
against the emulator running free (RealClock scaled by its speed).

A sleep may be given `meanwhile`: the harness's own work (a model step, no rig I/O) to do while the rig's time
passes. On a bench it is done first and the rest of the time slept; in lockstep it runs while the emulator steps,
so the two overlap on two cores instead of taking turns."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Generic, TypeVar

TICK_S = 0.1
# A deadline this near is reached: what is left of it is a rounding residue of the rig's times, and sleeping it would
# cost one more lockstep round trip and one more poll for nothing.
END_TOLERANCE_S = 1e-9
T = TypeVar("T")
log = logging.getLogger(__name__)


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

    pipelines = False  # never: a bench's instruments answer in real time

    def pipelined(self) -> AbstractContextManager[None]:
        """Nothing to pipeline on a real clock (SimClock.pipelined)."""
        return nullcontext()

    def sleep_until(self, t: float, meanwhile: Callable[[], None] | None = None) -> None:
        self.sleep(t - self.now(), meanwhile)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, poll: float) -> bool:
        return _wait_for(self, predicate, timeout, poll)


class SimClock:
    """Lockstep with the emulator: sleep(dt) asks it to advance simulated time by dt.

    `pipelined()` (where the rig allows it: `pipelines`): within it the steps are not waited for; each goes out with
    the next request a driver writes, and the emulator takes the step, then the request (hil.drivers.emulator_control).
    The time a step reaches is known before its answer, as the emulator computes and writes it, and checked against
    the answer; the answers are read, and the tick hooks run, when the harness next reads a link. A procedure that
    asks for several readings before it reads any (hil.procedures.delivery.record) so waits once for all of them."""

    def __init__(self, control):
        self.control = control
        self._now = control.now()
        self.on_tick: list[Callable[[], None]] = []
        self.pipelines = False  # set by the rig: every link its drivers write is one the emulator can hold
        self._pipelined = False
        self._settling = False

    def now(self) -> float:
        return self._now

    def sleep(self, dt: float, meanwhile: Callable[[], None] | None = None) -> None:
        if dt <= 0:
            if meanwhile is not None:
                meanwhile()
        elif not self._pipelined:
            self._now = self.control.advance(dt, meanwhile)
            for hook in self.on_tick:
                hook()
        else:
            # the emulator's own arithmetic (hil.emulator.server, ADV): its time plus the step as sent, as it answers
            reaches = f"{self._now + float(f'{dt:.6f}'):.6f}"
            if meanwhile is None:
                self.control.put_off_advance(dt, reaches)
            else:
                self.control.send_advance(dt, reaches)
                meanwhile()
            self._now = float(reaches)

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """Steps not waited for within it (see the class), if the rig allows it; on the way out the steps' answers
        read and the links handled as they come again."""
        if not self.pipelines or self._pipelined:
            yield
            return
        self.control.hold()
        self.control.on_read = self._settle
        self._pipelined = True
        try:
            yield
        except BaseException:
            self._end_pipeline(quietly=True)  # the exception that ended it is what the caller must see
            raise
        self._end_pipeline(quietly=False)

    def _end_pipeline(self, quietly: bool) -> None:
        self._pipelined = False
        try:
            self._settle()
            self.control.unhold()
        except Exception as exc:  # noqa: BLE001 - logged, never hiding the exception on its way out
            if not quietly:
                raise
            log.warning("lockstep pipeline not ended cleanly: %s", exc)
        finally:
            self.control.on_read = lambda: None

    def _settle(self) -> None:
        """Read the answers of the steps sent, then run the tick hooks (they may read links themselves)."""
        if self._settling:
            return
        self._settling = True
        try:
            if self.control.settle():
                for hook in self.on_tick:
                    hook()
        finally:
            self._settling = False

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
