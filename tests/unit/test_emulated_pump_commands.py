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


def test_the_dose_limits_start_at_the_top_of_the_ranges_and_are_set_both_or_read(pump):
    assert ask(pump, "LIMITS") == {"max_bolus": "30.000", "max_basal_rate": "30.000"}
    assert ask(pump, "LIMITS", "5.000", "1.000") == {"max_bolus": "5.000", "max_basal_rate": "1.000"}
    for args in (("5.000",), ("0.000", "1.000"), ("31.000", "1.000"), ("5.020", "1.000"), ("5.000", "x")):
        with pytest.raises(Refused) as info:
            pump.handle(Frame("1", "LIMITS", args))
        assert info.value.code == "BAD_ARGUMENT", args
    assert ask(pump, "LIMITS") == {"max_bolus": "5.000", "max_basal_rate": "1.000"}  # a refused LIMITS sets nothing


def test_a_dose_above_a_limit_is_refused_and_changes_nothing(world, pump):
    ask(pump, "LIMITS", "5.000", "1.000")
    ask(pump, "BASAL", "1.000")
    ask(pump, "RESUME")
    for word, args in (("BOLUS", ("5.050",)), ("BASAL", ("1.050",)), ("TEMPBASAL", ("2.000", "60"))):
        with pytest.raises(Refused) as info:
            pump.handle(Frame("1", word, args))
        assert info.value.code == "NOT_ALLOWED" and "above the maximum" in info.value.message, (word, args)
    status = ask(pump, "STATUS")
    assert (status["basal"], status["bolus"]) == ("1.000", "IDLE")
    assert ask(pump, "BOLUS", "5.000")["bolus"] == "5.000"  # at the maximum: accepted


@pytest.mark.parametrize(("defect", "word", "args"), [("max_bolus_not_enforced", "BOLUS", ("10.000",)),
                                                      ("temp_basal_limit_not_enforced", "TEMPBASAL", ("2.000", "60"))])
def test_the_seeded_dose_limit_defects_let_exactly_their_dose_through(defect, word, args):
    pump = World(EmulatorConfig.model_validate({"defects": {defect: True}}), lambda kind, fields: None,
                 lambda line: None).pump
    ask(pump, "LIMITS", "5.000", "1.000")
    ask(pump, "RESUME")
    ask(pump, word, *args)
    with pytest.raises(Refused):
        pump.handle(Frame("1", "BASAL", ("2.000",)))  # a programmed basal above the maximum: refused by both


def test_a_maximum_basal_rate_below_the_rate_in_use_is_refused(pump):
    """As Omnipod 5: no maximum below the programmed basal or a running temporary basal."""
    ask(pump, "BASAL", "1.000")
    ask(pump, "RESUME")
    ask(pump, "TEMPBASAL", "2.000", "30")
    for rate in ("1.500", "0.500"):
        with pytest.raises(Refused) as info:
            pump.handle(Frame("1", "LIMITS", ("5.000", rate)))
        assert info.value.code == "NOT_ALLOWED" and "in use" in info.value.message
    assert ask(pump, "LIMITS", "5.000", "2.000")["max_basal_rate"] == "2.000"
