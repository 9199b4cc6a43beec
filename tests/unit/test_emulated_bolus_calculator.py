"""The emulated pump's bolus calculator (docs/protocol.md §1, CALCSET and CALC): Omnipod 5's equations, the insulin
on board off the correction and then the meal, rounded down to the increment, a CGM value used only when fresh; the
seeded defects each break one of these."""

import pytest

from hil.emulation.options import Defects, EmulatorConfig, PumpParams
from hil.emulator.bolus_calculator import CalculatorSettings, advise
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame

SETTINGS = CalculatorSettings(carb_ratio_g_per_U=12.0, correction_factor_mg_dl_per_U=40.0, target_mg_dl=110.0)


def world_with(**defects) -> World:
    world = World(
        EmulatorConfig(pump=PumpParams(slack_U=0.0, stroke_cv=0.0), defects=Defects(**defects)),
        lambda kind, fields: None,
        lambda line: None,
    )
    ask(world, "RESUME")
    ask(world, "CALCSET", "12", "40", "110")
    return world


def ask(world, word, *args):
    return dict(arg.split("=", 1) for arg in world.pump.handle(Frame("1", word, args)))


@pytest.mark.parametrize(("carbs", "glucose", "iob", "total"), [
    (55, 200, 0.0, 6.80),  # 4.583 + 2.25 = 6.833, rounded down
    (55, 80, 0.0, 3.80),  # a reverse correction of 0.75 off the meal
    (55, None, 1.0, 4.55),  # no glucose: the meal alone, no insulin on board taken off
    (0, 250, 1.5, 2.00),  # 3.5 less 1.5 on board
    (30, 150, 2.0, 1.50),  # the correction of 1.0 gone, 1.0 more off the 2.5 meal
    (10, 60, 0.0, 0.00),  # never below 0
])
def test_known_answers(carbs, glucose, iob, total):
    assert advise(SETTINGS, carbs, glucose, iob, 0.05, Defects()).total_U == pytest.approx(total)


def test_the_insulin_on_board_of_a_bolus_comes_off_a_correction_an_hour_later():
    world = world_with()
    ask(world, "BOLUS", "2.000")
    world.advance(3600.0)
    advice = ask(world, "CALC", "0", "250")
    assert 1.4 < float(advice["iob"]) < 1.7  # oref0's curve, 75-min peak, 5 h: about 77 % left after an hour
    assert float(advice["total"]) == pytest.approx(3.5 - float(advice["iob"]), abs=0.05)


def test_seeded_defects():
    ignores = world_with(calculator_ignores_iob=True)
    ask(ignores, "BOLUS", "2.000")
    ignores.advance(3600.0)
    assert ask(ignores, "CALC", "0", "250")["total"] == "3.500"
    assert ask(world_with(calculator_rounds_up=True), "CALC", "55", "200")["total"] == "6.850"
    assert advise(SETTINGS, 5, 75, 0.0, 0.05, Defects(calculator_negative_advice=True)).total_U == pytest.approx(-0.5)
    left_on_meal = Defects(calculator_iob_off_correction_only=True)
    assert advise(SETTINGS, 30, 130, 1.5, 0.05, left_on_meal).total_U == pytest.approx(2.5)  # not 2.5 - 1.0
    stale = world_with(calculator_uses_stale_cgm=True)
    ask(stale, "CGM", "250", "0", "3600")  # taken an hour ago
    assert ask(stale, "CALC", "0", "CGM")["glucose"] == "250"


def test_a_cgm_value_is_used_only_when_the_cgm_took_it_within_10_min():
    world = world_with()
    ask(world, "CGM", "250", "0", "590")
    assert ask(world, "CALC", "0", "CGM")["glucose"] == "250"
    world.advance(20.0)
    assert ask(world, "CALC", "0", "CGM") == {"total": "0.000", "meal": "0.000", "correction": "0.000", "iob": "0.000", "glucose": "-"}


@pytest.mark.parametrize("args", [("301",), ("10", "700"), ("10", "high"), ("-1",)])
def test_out_of_range_is_refused(args):
    with pytest.raises(Refused) as info:
        world_with().pump.handle(Frame("1", "CALC", args))
    assert info.value.code == "BAD_ARGUMENT"
