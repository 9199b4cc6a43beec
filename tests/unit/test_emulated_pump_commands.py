"""The emulated pump's command handling: a request it cannot take is refused whole with a typed error, never a
crash of the emulator and never half applied (docs/protocol.md §1)."""

import pytest

from hil.emulation.options import EmulatorConfig
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame


@pytest.fixture
def world():
    return World(EmulatorConfig(), lambda kind, fields: None, lambda line: None)


@pytest.fixture
def pump(world):
    return world.pump


def ask(pump, word, *args):
    return dict(arg.split("=", 1) for arg in pump.handle(Frame("1", word, args)))


@pytest.mark.parametrize("word, args", [("STATUS", ("x",)), ("ID", ("1", "2")), ("STOP", ("now",)),
                                        ("TEMPBASAL", ("1.0", "30", "extra"))])
def test_a_request_with_arguments_its_command_does_not_take_is_refused(pump, word, args):
    with pytest.raises(Refused) as info:
        pump.handle(Frame("1", word, args))
    assert info.value.code == "BAD_ARGUMENT"


def test_a_refused_set_changes_no_setting(pump):
    before = ask(pump, "SET")
    with pytest.raises(Refused):
        pump.handle(Frame("1", "SET", ("backoff=0", "low_limit=70", "on_low=2")))
    assert ask(pump, "SET") == before


def test_a_refused_temporary_basal_leaves_the_running_one_to_end(world, pump):
    ask(pump, "RESUME")
    ask(pump, "BASAL", "1.000")
    running = ask(pump, "TEMPBASAL", "0.500", "30")
    with pytest.raises(Refused):
        pump.handle(Frame("1", "TEMPBASAL", ("0.500", "5000")))
    assert ask(pump, "STATUS")["basal"] == "0.500"
    world.advance(float(running["temp_end"]) - world.scheduler.now + 1.0)
    assert ask(pump, "STATUS")["basal"] == "1.000"  # it still ends when it was due
