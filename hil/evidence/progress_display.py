"""Where the progress line goes: on a terminal, in place on a line of its own under pytest's (erased before pytest
writes the test's result), refreshed twice a second of wall time; anywhere else (CI, a log file), or when operator
prompts may write to the terminal mid-test, as a plain `hil: progress` line once a minute. A live line wider than the
terminal leaves out its last parts whole (the latest reading first), never a value cut in two."""

import contextlib
import time
from collections.abc import Callable

from hil.evidence.progress import SEPARATOR

LIVE_EVERY_S = 0.5
PLAIN_EVERY_S = 60.0


class ProgressDisplay:
    def __init__(
        self, reporter, live: bool, uncaptured: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    ):
        """uncaptured: a context in which writing reaches the terminal while pytest captures the test's output
        (its capture manager's global_and_fixture_disabled)."""
        self._reporter = reporter
        self._live = live
        self._uncaptured = uncaptured
        self._shown = False  # a live line is on the terminal, under pytest's
        self._next = 0.0

    def tick(self, line: Callable[[], str]) -> None:
        """Show the progress line if its time has come (cheap otherwise: a clock's tick hook calls it)."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + (LIVE_EVERY_S if self._live else PLAIN_EVERY_S)
        with self._uncaptured():
            if not self._live:
                self._reporter.write_line(f"hil: progress {line()}")
                return
            tw = self._reporter._tw  # written past its line tracking, so pytest's own line stays where it thinks
            text = fitted(line(), max(20, tw.fullwidth - 1))
            tw._file.write(("\r" if self._shown else "\n") + text + "\x1b[K")
            tw._file.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the live line and put the cursor back at the end of pytest's line."""
        if not self._shown:
            return
        tw = self._reporter._tw
        column = tw.width_of_current_line
        with self._uncaptured():
            tw._file.write("\r\x1b[K\x1b[1A\r" + (f"\x1b[{column}C" if column else ""))
            tw._file.flush()
        self._shown = False
        self._next = 0.0


def fitted(line: str, width: int) -> str:
    """The line's parts (SEPARATOR apart) that fit the width, whole, from its start; only a first part wider than
    the whole width is cut."""
    parts = line.split(SEPARATOR)
    while len(parts) > 1 and len(SEPARATOR.join(parts)) > width:
        parts.pop()
    return SEPARATOR.join(parts)[:width]
