"""Day scenarios for virtual patients (fixtures/scenarios/days/): a day of meals and what the user gets wrong about
them (carbohydrates under- or over-counted, a bolus late or forgotten, snacks not bolused, a change of insulin
sensitivity), turned into the programme for one patient: the meals eaten, and each bolused meal's counted
carbohydrates through the user's bolus calculator at the minute the user boluses.

The meals follow simglucose's RandomScenario (0.2.11, simulation/scenario_gen.py): means of 45 g at 07:00, 70 g at
12:00 and 80 g at 18:00, 10-g snacks at 09:30, 15:00 and 21:30. A file is read once, completely checked (types,
ranges, unknown and missing keys), and every problem is reported by file and line."""

from typing import TYPE_CHECKING

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from hil import project, yamlfile
from hil.patient.bolus_calculator import BolusCalculator
from hil.patient.programme import Meal, MealBolus, Programme, round_to

if TYPE_CHECKING:  # the model (simglucose, pandas, scipy) is not loaded to read a day file
    from hil.patient.uva_padova import VirtualPatient

DAYS = project.reference("scenarios", "days")
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class BadDayScenario(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MealBolusing(_Strict):
    counted_share: float = Field(gt=0, le=3, description="the carbohydrates the user counts, as a share of the meal's")
    late_min: int = Field(0, ge=-60, le=180, description="the bolus this long after the meal (negative: before)")


class DayMeal(_Strict):
    at: str = Field(pattern=CLOCK, description="clock time HH:MM")
    carbs_g: float = Field(gt=0, le=300)
    bolus: MealBolusing | None = None  # absent: the meal is not bolused


class DayScenario(_Strict):
    description: str
    starts_at: str = Field(pattern=CLOCK)
    basal_factor: float = Field(1.0, gt=0, le=3, description="programmed basal / the patient's steady-state need")
    insulin_sensitivity_factor: float = Field(1.0, gt=0, le=3)
    meals: list[DayMeal] = Field(min_length=1)


def load_day(name: str) -> DayScenario:
    """The day scenario of that name; one line per problem, by file and line, when it cannot be used."""
    path = DAYS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in DAYS.glob("*.yaml")))
        raise BadDayScenario(f"{project.shown(path.resolve())}: no such day scenario (known: {known})")
    problems: list[yamlfile.Problem] = []
    located = yamlfile.parse(path, problems)
    if located is None or problems:
        raise BadDayScenario("\n".join(str(p) for p in problems))
    try:
        return DayScenario.model_validate(located.data)
    except pydantic.ValidationError as exc:
        raise BadDayScenario(
            "\n".join(str(located.problem(err["loc"], _message(err))) for err in exc.errors())
        ) from None


def _message(err) -> str:
    if err["type"] == "missing":
        return f"missing '{err['loc'][-1]}'"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}'"
    return f"{err['msg']} (got {err['input']!r})"


def minute_of(clock: str, starts_at: str) -> int:
    """Minutes from the day's start to a clock time (the next day's when earlier than the start)."""
    hours, minutes = map(int, clock.split(":"))
    start_h, start_m = map(int, starts_at.split(":"))
    return (hours * 60 + minutes - start_h * 60 - start_m) % (24 * 60)


def plan_for(
    day: DayScenario,
    patient: "VirtualPatient",
    increment_U: float,
    correction_factor_mg_dl_per_U: float,
    target_mg_dl: float,
) -> Programme:
    """The day for one patient, in the pump's increments: the programmed basal, every meal eaten at its minute, and
    each bolused meal's counted carbohydrates entered in the calculator (the patient's own carbohydrate ratio, the
    correction factor and target given) at its minute plus the delay."""
    meals, boluses = [], []
    for meal in day.meals:
        minute = minute_of(meal.at, day.starts_at)
        meals.append(Meal(minute, meal.carbs_g))
        if meal.bolus is not None:
            boluses.append(MealBolus(max(0, minute + meal.bolus.late_min), meal.carbs_g * meal.bolus.counted_share))
    calculator = BolusCalculator(patient.carb_ratio_g_per_U, correction_factor_mg_dl_per_U, target_mg_dl, increment_U)
    return Programme(
        max(increment_U, round_to(patient.basal_U_per_h * day.basal_factor, increment_U)),
        meals=tuple(meals),
        insulin_sensitivity_factor=day.insulin_sensitivity_factor,
        meal_boluses=tuple(sorted(boluses, key=lambda b: b.minute)),
        calculator=calculator,
    )
