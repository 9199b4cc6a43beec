"""A sleep on the rig clock with `meanwhile`: the harness's own work runs while the rig's time passes. In lockstep
the step is sent first and its answer read after the work, so the emulator steps while the harness works; the work
runs exactly once whatever the step; and a step whose wait the work cut short leaves no link fault behind."""

import time

import pytest

from hil.drivers.emulator_control import EmulatorControl
from hil.rig.clock import RealClock, SimClock
from hil.transport.frames import decode, encode
from tests.unit.pty_instrument import ScriptedInstrument


class ScriptedEmulator:
    """Answers NOW and ADV as the emulator's control link does, its time moved by each ADV."""

    def __init__(self):
        self.t = 100.0
        self.wire = ScriptedInstrument(self._answer)
        self.control = EmulatorControl(self.wire.path, timeout_s=2.0)

    def _answer(self, line: str) -> list[str]:
        frame = decode(line.encode())
        if frame.word == "ADV":
            self.t += float(frame.args[0])
        return [encode(frame.tag, "OK", f"t={self.t:.6f}", "events=0").decode().rstrip()]

    def received(self, word: str) -> int:
        return sum(command.split()[1:2] == [word] for command in self.wire.commands)

    def close(self) -> None:
        self.control.close()
        self.wire.close()


@pytest.fixture
def emulator():
    fake = ScriptedEmulator()
    yield fake
    fake.close()


def _until(predicate, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_the_step_is_on_its_way_while_the_work_runs(emulator):
    clock = SimClock(emulator.control)
    seen = []

    def work():
        # the emulator has the ADV before the harness has read any answer: both sides work at once
        seen.append(_until(lambda: emulator.received("ADV") == 1))

    clock.sleep_until(160.0, meanwhile=work)
    assert seen == [True]
    assert clock.now() == 160.0


def test_the_work_runs_once_even_when_no_time_passes(emulator):
    clock = SimClock(emulator.control)
    calls = []
    clock.sleep_until(clock.now(), meanwhile=lambda: calls.append("now"))
    clock.sleep_until(clock.now() - 5.0, meanwhile=lambda: calls.append("past"))
    assert calls == ["now", "past"] and emulator.received("ADV") == 0


def test_work_that_fails_leaves_the_step_answered_and_the_link_clean(emulator):
    clock = SimClock(emulator.control)

    def broken():
        raise ValueError("the model failed")

    with pytest.raises(ValueError, match="the model failed"):
        clock.sleep(60.0, meanwhile=broken)
    # the ADV's answer arrives after the failure: expected, dropped as a late answer, never a link fault
    assert emulator.control.now() == 160.0
    assert not emulator.control.link.unasked


def test_on_a_bench_the_work_is_done_first_and_the_rest_slept():
    clock = RealClock()
    start = clock.now()
    done_at = []
    clock.sleep_until(start + 0.05, meanwhile=lambda: done_at.append(clock.now()))
    assert len(done_at) == 1 and done_at[0] < start + 0.05 <= clock.now()
