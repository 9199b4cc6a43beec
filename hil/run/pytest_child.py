"""`hil verify`'s pytest, as a child process that is never killed before it has stopped the pump.

The child stays in the terminal's foreground process group (operator prompts read the terminal), so a Ctrl-C
reaches it directly; SIGINT, SIGTERM and SIGHUP sent to `hil` alone are forwarded to it, once. Either way
pytest's plugin makes the pump safe, finishes the record and exits with 128 + the signal's number; `hil`
waits for that (within a generous deadline) before it seals the run.
"""

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hil.rig.abort import SIGNALS, handled_by

ABORT_GRACE_S = 300.0  # after a signal: time for the STOP, the last test's teardown and the record


@dataclass(frozen=True)
class ChildOutcome:
    exit_status: int  # the shell's convention: 128 + N when a signal ended it
    signal: signal.Signals | None  # the abort signal `hil` received or pytest died of, if any
    killed: bool = False  # the child outlived the grace period and was killed


def run_pytest(
    command: list[str],
    say: Callable[[str], None],
    grace_s: float = ABORT_GRACE_S,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ChildOutcome:
    return run_children([command], say, grace_s, cwd, env)[0]


def run_children(
    commands: list[list[str]],
    say: Callable[[str], None],
    grace_s: float = ABORT_GRACE_S,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    relay: Callable[[int, str], None] | None = None,
) -> list[ChildOutcome]:
    """The commands as child processes side by side, each sent the first abort signal once. relay: the children's
    output (stdout and stderr merged), line by line with the child's index, instead of the terminal."""
    piped = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True} if relay else {}
    children = [subprocess.Popen(command, cwd=cwd, env=env, **piped) for command in commands]  # type: ignore[call-overload]
    readers = [threading.Thread(target=_relay, args=(i, child, relay), daemon=True) for i, child in enumerate(children)]
    for reader in readers if relay else ():
        reader.start()
    received: list[signal.Signals] = []
    deadline = [float("inf")]

    def forward(signum, frame):
        if received:
            say(f"hil: {signal.Signals(signum).name} ignored: already stopping (waiting for the pump's STOP)")
            return
        if all(child.poll() is not None for child in children):  # the pumps are stopped; hil has yet to notice
            say(f"hil: {signal.Signals(signum).name} ignored: pytest has finished, the run is being sealed")
            return
        received.append(signal.Signals(signum))
        deadline[0] = time.monotonic() + grace_s
        say(f"hil: {received[0].name}: pytest is stopping the pump and finishing the record (up to {grace_s:g} s)")
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    with handled_by(forward):
        killed = [_wait(child, deadline, say) for child in children]
    for reader in readers if relay else ():
        reader.join(timeout=5)
    return [
        _outcome(child.returncode, received, was_killed) for child, was_killed in zip(children, killed, strict=True)
    ]


def _relay(index: int, child: subprocess.Popen, relay: Callable[[int, str], None]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        relay(index, line.rstrip("\n"))


def _outcome(code: int, received: list[signal.Signals], killed: bool) -> ChildOutcome:
    died_of = signal.Signals(-code) if code < 0 else None
    ended_by = received[0] if received else died_of
    if ended_by is not None:
        return ChildOutcome(128 + ended_by.value, ended_by, killed)
    return ChildOutcome(code, signal.Signals(code - 128) if code - 128 in {s.value for s in SIGNALS} else None)


def _wait(child: subprocess.Popen, deadline: list[float], say: Callable[[str], None]) -> bool:
    """Wait for the child; True if it outlived the deadline after a signal and had to be killed."""
    while True:
        try:
            child.wait(timeout=0.5)
            return False
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline[0]:
                say("hil: pytest did not finish within the grace period: killed (check the pump is stopped)")
                child.kill()
                child.wait()
                return True


@contextmanager
def signals_held(say: Callable[[str], None], doing: str):
    """After pytest: SIGINT, SIGTERM and SIGHUP are said and ignored while `hil` seals the run (the pump is
    stopped by then; what is left is to keep the evidence whole)."""

    def ignore(signum, frame):
        say(f"hil: {signal.Signals(signum).name} ignored: {doing}")

    with handled_by(ignore):
        yield
