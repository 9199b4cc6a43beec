"""Signals that end a run (SIGINT, SIGTERM, SIGHUP) as one `Interrupted` exception.

The first signal raises Interrupted (a KeyboardInterrupt, so pytest tears the test down and finishes the
session); later ones are only logged, so a second Ctrl-C cannot cut the shutdown short. Inside `shielded()`
(making the pump safe and recording it, a test's whole teardown) even the first is held back, and raised when
the shield lifts or left for the caller to stop the session with.
"""

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int):
        self.signal = signal.Signals(signum)
        super().__init__(f"interrupted by {self.signal.name}")

    @property
    def exit_status(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
        return 128 + self.signal.value


class AbortSignals:
    def __init__(self):
        self.received: signal.Signals | None = None
        self._previous: dict = {}
        self._shield_depth = 0
        self._held = False

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> None:
        """Take over the abort signals (main thread only; elsewhere the default handling stays)."""
        if self.installed or threading.current_thread() is not threading.main_thread():
            return
        self._previous = {signum: signal.signal(signum, self._handle) for signum in SIGNALS}

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:
            log.warning(
                "%s received while stopping after %s: ignored until the pump is safe",
                signal.Signals(signum).name,
                self.received.name,
            )
            return
        self.received = signal.Signals(signum)
        log.warning("%s received: stopping the pump and ending the run", self.received.name)
        if self._shield_depth:
            self._held = True
            return
        raise Interrupted(signum)

    @contextmanager
    def shielded(self, raise_held: bool = True):
        """Hold a first abort signal until the block has run, then raise it; with raise_held False, only keep it
        in `received` for the caller to act on (raising inside a pytest teardown would skip the finalizers
        that follow, the evidence among them)."""
        self._shield_depth += 1
        try:
            yield
        finally:
            self._shield_depth -= 1
            if self._shield_depth == 0 and self._held:
                self._held = False
                if raise_held:
                    assert self.received is not None  # a signal is held only once it was received
                    raise Interrupted(self.received)


signals = AbortSignals()


@contextmanager
def handled_by(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP go to handler in the block; the handlers before it are put back on the way out."""
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)
