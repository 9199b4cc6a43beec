"""How the run core speaks and stops. Its lines go to whoever runs it (the `hil` command prints them, progress on
stdout and problems on stderr); a run that cannot go on raises RunStop with the exit status to end with and the
one line that says why."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Say:
    out: Callable[[str], None]  # what the run does and what it found
    err: Callable[[str], None]  # what went wrong, what was refused


class RunStop(Exception):
    def __init__(self, exit_status: int, line: str = ""):
        super().__init__(line)
        self.exit_status = exit_status
        self.line = line
