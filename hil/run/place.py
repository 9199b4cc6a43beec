"""A labgrid place held for one `hil verify`: acquired (any abort signal while acquiring or waiting ends it, cleaned
up), named to pytest, and given back to the lab once pytest has ended, only when the pump was left stopped."""

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hil.rig import lab
from hil.rig.abort import handled_by
from hil.rig.rig import NO_PUMP_LINK
from hil.run.pytest_child import ChildOutcome, signals_held
from hil.run.say import RunStop, Say


@contextmanager
def signals_interrupt(received: list[signal.Signals]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt in the block (each kept in `received`), so that whatever
    the block was doing with the coordinator is undone on the way out."""

    def interrupt(signum, frame):
        received.append(signal.Signals(signum))
        raise KeyboardInterrupt

    with handled_by(interrupt):
        yield


@dataclass
class Held:
    """The place `hil verify` holds, and whether its pump was left stopped (the place may go back to the lab)."""

    acquisition: lab.Acquisition
    pump_stopped: bool = True

    @property
    def place(self) -> str:
        return self.acquisition.place

    @property
    def holder(self) -> str:
        return self.acquisition.holder


def pump_left_stopped(child: ChildOutcome, record: dict | None) -> bool:
    """Whether pytest's rig had the pump's last STOP acknowledged, or never opened a pump link to command it."""
    if child.killed:
        return False
    actions = (record or {}).get("safety_actions") or []
    return not actions or actions[-1]["ok"] or actions[-1]["detail"] == NO_PUMP_LINK


def on_place(section: dict, wait_s: float, say: Say, verify: Callable[[Held], int]) -> int:
    """`verify` on the rig of a labgrid place (the rig file's labgrid: section), the place held meanwhile; its exit
    status. A RunStop when the place cannot be had, or a signal ends the wait (nothing ran); what stops `verify` is
    said before the place goes back."""
    received: list[signal.Signals] = []
    held: Held | None = None
    try:
        with signals_interrupt(received):  # acquiring or waiting: any abort signal ends it (lab.acquire cleans up)
            held = Held(lab.acquire(section["coordinator"], section["place"], wait_s))
    except lab.LabError as exc:
        raise RunStop(1, f"hil: {exc}") from None
    except KeyboardInterrupt:
        if held is not None:  # the signal came as the acquisition returned: the place is ours to give back
            release(held, say)
        signum = received[0] if received else signal.SIGINT
        raise RunStop(
            128 + signum.value, f"hil: {signum.name} while acquiring place {section['place']}: nothing ran"
        ) from None
    try:
        say.out(f"labgrid: place {held.place} of {section['coordinator']} acquired by {held.holder}")
        os.environ[lab.ACQUISITION_ENV] = held.acquisition.as_json()  # for pytest (and a resume's rig check)
        return verify(held)
    except (lab.LabError, RunStop, KeyboardInterrupt) as exc:
        stop = _stop_of(exc)
        if stop.line:
            say.err(stop.line)
        raise RunStop(stop.exit_status) from None
    finally:
        release(held, say)


def _stop_of(exc: BaseException) -> RunStop:
    """How `verify` on a held place ended when it did not return: said before the place goes back."""
    if isinstance(exc, RunStop):
        return exc
    if isinstance(exc, KeyboardInterrupt):  # outside pytest (it forwards signals): before it started, or after the seal
        return RunStop(128 + signal.SIGINT.value, "hil: SIGINT: stopped")
    return RunStop(1, f"hil: {exc}")


def release(held: Held, say: Say) -> None:
    """After pytest has ended, its pump stopped: the place goes back to the lab (abort signals held meanwhile).
    Kept, and said, when the pump's last STOP was not acknowledged or pytest was killed before it."""
    os.environ.pop(lab.ACQUISITION_ENV, None)
    if not held.pump_stopped:
        say.err(
            f"hil: labgrid place {held.place} kept acquired: the pump's STOP was not acknowledged (or pytest was "
            f"killed before it); check the pump, then "
            f"`labgrid-client -x {held.acquisition.coordinator} -p {held.place} release`"
        )
        return
    with signals_held(say.err, f"releasing place {held.place}"):
        try:
            lab.release(held.acquisition)
            say.out(f"labgrid: place {held.place} released")
        except lab.LabError as exc:
            say.err(f"hil: {exc}")
