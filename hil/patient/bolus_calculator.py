"""The user's bolus calculator, as a pump's own works: the carbohydrates the user counted over the carbohydrate
ratio, plus a correction of the glucose to the target over the correction factor (negative below the target, so a
low glucose takes insulin off the meal bolus), minus the insulin still on board; never below nothing, never above the
pump's maximum bolus, in the pump's increments (rounded down). The ratio and factor are the patient's own
(simglucose Quest.csv); the maximum bolus is the Insulet pump's 30 U (simglucose pump_params.csv;
docs/references.md, "Virtual patients")."""

import math
from dataclasses import dataclass

MAX_BOLUS_U = 30.0  # simglucose pump_params.csv, Insulet: max bolus 30 U


@dataclass(frozen=True)
class BolusCalculator:
    carb_ratio_g_per_U: float
    correction_factor_mg_dl_per_U: float
    target_mg_dl: float
    increment_U: float
    max_bolus_U: float = MAX_BOLUS_U

    def dose(self, counted_g: float, glucose_mg_dl: float | None, on_board_U: float) -> float:
        """The bolus for a meal of counted_g, at the glucose the CGM shows (None: no value yet, no correction) with
        on_board_U of insulin still acting."""
        correction = 0.0 if glucose_mg_dl is None else (glucose_mg_dl - self.target_mg_dl)
        wanted = counted_g / self.carb_ratio_g_per_U + correction / self.correction_factor_mg_dl_per_U - on_board_U
        capped = min(max(0.0, wanted), self.max_bolus_U)
        return round(math.floor(capped / self.increment_U + 1e-9) * self.increment_U, 6)
