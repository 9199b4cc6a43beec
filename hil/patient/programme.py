"""What a virtual patient lives through on the pump: the pump programme (a basal rate and the boluses the user
gives, each at a minute from the start: a set amount, or a meal's counted carbohydrates through the user's bolus
calculator), the meals eaten, and a change of the patient's insulin sensitivity from the start. Nights
(hil.patient.nights) and days with meals (hil.patient.days) are both turned into one."""

from dataclasses import dataclass

from hil.patient.bolus_calculator import BolusCalculator


@dataclass(frozen=True)
class Bolus:
    minute: int  # from the start
    amount_U: float


@dataclass(frozen=True)
class Meal:
    minute: int  # from the start; eaten within that minute (the model's gut absorption spreads it)
    carbs_g: float


@dataclass(frozen=True)
class MealBolus:
    minute: int  # from the start
    counted_g: float  # the carbohydrates the user enters in the calculator


@dataclass(frozen=True)
class Programme:
    basal_U_per_h: float
    boluses: tuple[Bolus, ...] = ()
    meals: tuple[Meal, ...] = ()
    insulin_sensitivity_factor: float = 1.0
    meal_boluses: tuple[MealBolus, ...] = ()
    calculator: BolusCalculator | None = None  # needed with meal_boluses

    def __post_init__(self):
        if self.meal_boluses and self.calculator is None:
            raise ValueError("meal boluses need the user's bolus calculator")

    def bolus_at(self, minute: int) -> float:
        return sum(b.amount_U for b in self.boluses if b.minute == minute)

    def counted_at(self, minute: int) -> float:
        return sum(b.counted_g for b in self.meal_boluses if b.minute == minute)

    def carbs_at(self, minute: int) -> float:
        return sum(m.carbs_g for m in self.meals if m.minute == minute)

    @property
    def bolus_U(self) -> float:
        return sum(b.amount_U for b in self.boluses)


def round_to(value: float, increment: float) -> float:
    """A dose in the pump's programming increments."""
    return round(round(value / increment) * increment, 6)
