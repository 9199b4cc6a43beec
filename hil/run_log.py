"""run.log: the run's story for whoever reads the evidence, one line per thing that happened, each stamped with
the wall time (UTC) and the rig time: the rig and its instruments' identities, every state-changing command, each
test's start and verdict, STOPs, warnings, rig faults, an interrupt. Written and flushed line by line as the run
goes (a crash keeps what came before), sealed with the run.

The story is told on `narrative` (INFO), a logger of its own outside the logging tree: it goes to run.log only,
never to the console nor into pytest's captured logs (which pytest attaches to every logger of the tree that does
not propagate). Warnings and errors of every `hil` logger go to run.log as well as where they went before. A
module of its own, below everything that tells the story (transport, drivers, rig, plugin)."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

narrative = logging.Logger("hil.run", logging.INFO)  # not logging.getLogger: outside the tree, see above


class _Stamped(logging.Formatter):
    def __init__(self, rig_time: Callable[[], float | None]):
        super().__init__()
        self._rig_time = rig_time

    def format(self, record: logging.LogRecord) -> str:
        wall = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            t = self._rig_time()
        except Exception:  # noqa: BLE001 - a log line must never fail on the clock
            t = None
        rig = "-" if t is None else f"{t:.3f}"
        return f"{wall} rig {rig:>12} s {record.levelname:<7} {record.name}: {record.getMessage()}"


def attach(path: Path, rig_time: Callable[[], float | None]) -> Callable[[], None]:
    """Start writing run.log at `path` (appending); rig_time gives the rig clock's time, None while there is
    none. Returns the function that stops it."""
    handler = logging.FileHandler(path, encoding="utf-8")  # flushed after every line
    handler.setFormatter(_Stamped(rig_time))
    hil = logging.getLogger("hil")
    narrative.addHandler(handler)
    hil.addHandler(handler)  # at the level the hil loggers already have: warnings and errors

    def detach() -> None:
        narrative.removeHandler(handler)
        hil.removeHandler(handler)
        handler.close()

    return detach
