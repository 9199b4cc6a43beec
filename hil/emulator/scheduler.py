"""Simulated time: a clock that only moves when told, and the events due on the way."""

import heapq
import itertools
from collections.abc import Callable


class Event:
    __slots__ = ("time", "action", "cancelled")

    def __init__(self, time: float, action: Callable[[], None]):
        self.time, self.action, self.cancelled = time, action, False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self, start: float = 0.0):
        self.now = start
        self._queue: list[tuple[float, int, Event]] = []
        self._order = itertools.count()

    def at(self, time: float, action: Callable[[], None]) -> Event:
        event = Event(max(time, self.now), action)
        heapq.heappush(self._queue, (event.time, next(self._order), event))
        return event

    def run_until(self, target: float, on_time: Callable[[float], None]) -> None:
        """Fire every event due up to `target`; `on_time(t)` moves the physics to t before each event."""
        while self._queue and self._queue[0][0] <= target:
            time, _, event = heapq.heappop(self._queue)
            if event.cancelled:
                continue
            on_time(time)
            self.now = time
            event.action()
        on_time(target)
        self.now = target
