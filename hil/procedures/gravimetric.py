"""Balance readings → insulin units, with the rig's environment, evaporation correction and balance data, and
the GUM budget of a weighed amount."""

import copy
import math

import numpy as np

from hil.analysis import gravimetry
from hil.analysis.uncertainty import difference_uncertainty_mg


class Gravimetry:
    def __init__(self, rig_config):
        env = rig_config.section("environment")
        self.temperature_C, self.pressure_hPa, self.humidity_pct = (
            env["temperature_C"],
            env["pressure_hPa"],
            env["humidity_pct"],
        )
        self.evaporation_mg_per_h = rig_config.section("evaporation_correction")["rate_mg_per_h"]
        self.concentration = rig_config.concentration_U_per_mL
        scale = rig_config.section("scale")
        self.repeatability_mg, self.readability_mg = scale["repeatability_mg"], scale["readability_mg"]
        evaporation = rig_config.section("evaporation_correction")
        # Standard uncertainty of the correction rate: from repeated blank runs; when the rig file gives none,
        # half the rate (a rectangular spread from no evaporation to 2× the measured one would give 0.58×).
        self.u_evaporation_mg_per_h = evaporation.get("u_rate_mg_per_h", 0.5 * self.evaporation_mg_per_h)
        # Mass → volume: water expands by 2.07e-4 per K at 20 °C (the slope of the Tanaka density formula the
        # conversion uses); the temperature's standard uncertainty defaults to IEC 60601-2-24's 20 ± 2 °C as a
        # rectangular spread (2/√3 K).
        self.u_temperature_C = env.get("u_temperature_C", 2.0 / math.sqrt(3.0))
        self.u_rel_conversion = 2.07e-4 * self.u_temperature_C

    def with_balance(self, readability_mg: float, repeatability_mg: float) -> "Gravimetry":
        """The same rig with another balance (what `hil rig check` tries to name the balance a bound needs)."""
        other = copy.copy(self)
        other.readability_mg, other.repeatability_mg = readability_mg, repeatability_mg
        return other

    def units(self, mass_mg) -> np.ndarray:
        volume = gravimetry.mass_to_volume(mass_mg, self.temperature_C, self.pressure_hPa, self.humidity_pct)
        return gravimetry.volume_to_units(volume, self.concentration)

    def cumulative_units(self, t_s, mass_mg) -> np.ndarray:
        """Delivered since the first sample, evaporation added back."""
        corrected = gravimetry.evaporation_corrected(t_s, mass_mg, self.evaporation_mg_per_h)
        return self.units(corrected - corrected[0])

    def difference_units(self, t_before, mass_before, t_after, mass_after) -> np.ndarray:
        """Delivered between paired readings, evaporation over each interval added back."""
        lost = self.evaporation_mg_per_h * (np.asarray(t_after) - np.asarray(t_before)) / 3600.0
        return self.units(np.asarray(mass_after) - np.asarray(mass_before) + lost)

    def weighed(self, t_before, mass_before, t_after, mass_after) -> tuple[float, float]:
        """An amount delivered between two readings, and its expanded uncertainty (k = 2) from the budget."""
        amount = float(self.difference_units(t_before, mass_before, t_after, mass_after))
        return amount, 2.0 * self.u_amount_U(float(t_after) - float(t_before), amount)

    def u_difference_U(self) -> float:
        """Standard uncertainty (U) of an amount weighed as the difference of two readings taken close together."""
        return self.u_amount_U()

    def budget(self, duration_s: float = 0.0, amount_U: float = 0.0) -> dict[str, float]:
        """The standard-uncertainty components (U) of an amount_U weighed as a difference over duration_s."""
        return {
            "balance (two readings: repeatability, readability)": float(
                self.units(difference_uncertainty_mg(self.repeatability_mg, self.readability_mg))
            ),
            "evaporation correction over the interval": float(
                self.units(self.u_evaporation_mg_per_h * duration_s / 3600.0)
            ),
            "mass to volume (water temperature)": self.u_rel_conversion * abs(amount_U),
        }

    def u_amount_U(self, duration_s: float = 0.0, amount_U: float = 0.0) -> float:
        """Combined standard uncertainty (U) of the budget (GUM, independent components)."""
        return math.sqrt(sum(u * u for u in self.budget(duration_s, amount_U).values()))

    def budget_text(self, duration_s: float, amount_U: float) -> str:
        rows = self.budget(duration_s, amount_U)
        lines = [f"  {name}: u = {u:.5f} U" for name, u in rows.items()]
        return (
            f"Uncertainty budget (GUM) of {amount_U:g} U weighed over {duration_s / 3600:g} h:\n"
            + "\n".join(lines)
            + f"\n  combined standard u = {self.u_amount_U(duration_s, amount_U):.5f} U, expanded U (k = 2) = "
            f"{2 * self.u_amount_U(duration_s, amount_U):.5f} U"
        )
