"""The reference firmware's bolus calculator: Omnipod 5's SmartBolus equations as its labelling states them
(docs/references.md, "The bolus calculator"): a meal bolus of the carbohydrate over the insulin-to-carb ratio, a
correction of the glucose above target over the correction factor, the insulin on board taken off the correction
first and what is left of it off the meal; a glucose below target takes its (reverse) correction off the meal; the
total rounded down to the pump's increment, never below 0. Without a glucose, the meal bolus alone, the insulin on
board not taken off (the label: the calculator "only subtracts IOB from a suggested bolus if your current glucose is
known"). One insulin on board, taken as the label's correction insulin on board (off the correction, then the meal):
the label's meal insulin on board, of a meal bolus the calculator advised, which never comes off a meal, is not kept
apart (the reference firmware's simplification; a bolus given outside the calculator is the suite's)."""

import math
from dataclasses import dataclass

from hil.emulation.options import Defects


@dataclass(frozen=True)
class CalculatorSettings:
    carb_ratio_g_per_U: float = 10.0
    correction_factor_mg_dl_per_U: float = 50.0
    target_mg_dl: float = 110.0


@dataclass(frozen=True)
class Advice:
    total_U: float
    meal_U: float  # what is left of the meal bolus
    correction_U: float  # what is left of the correction
    iob_U: float  # the insulin on board the advice counted


def advise(
    settings: CalculatorSettings,
    carbs_g: float,
    glucose_mg_dl: float | None,
    iob_U: float,
    increment_U: float,
    defects: Defects,
) -> Advice:
    """The calculator's advice, with the seeded calculator defects the pump has."""
    meal = carbs_g / settings.carb_ratio_g_per_U
    if glucose_mg_dl is None:
        return Advice(_rounded(meal, increment_U, defects), meal, 0.0, 0.0)
    correction = (glucose_mg_dl - settings.target_mg_dl) / settings.correction_factor_mg_dl_per_U
    on_board = 0.0 if defects.calculator_ignores_iob else iob_U
    if correction < 0:  # reverse correction: below target, off the meal
        meal, correction = meal + correction, 0.0
    correction -= on_board
    if correction < 0:  # the insulin on board beyond the correction comes off the meal
        meal, correction = meal + (0.0 if defects.calculator_iob_off_correction_only else correction), 0.0
    if not defects.calculator_negative_advice:
        meal = max(meal, 0.0)
    return Advice(_rounded(meal + correction, increment_U, defects), meal, correction, iob_U)


def _rounded(amount_U: float, increment_U: float, defects: Defects) -> float:
    if defects.calculator_rounds_up:
        steps = math.ceil(amount_U / increment_U - 1e-9)
    else:
        steps = math.floor(amount_U / increment_U + 1e-9)
    return (steps if defects.calculator_negative_advice else max(steps, 0)) * increment_U
