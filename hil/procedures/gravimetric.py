"""Balance readings → insulin units, with the rig's environment, evaporation correction and balance data."""

import numpy as np

from hil.analysis import gravimetry
from hil.analysis.uncertainty import difference_uncertainty_mg


class Gravimetry:
    def __init__(self, rig_config):
        env = rig_config.section("environment")
        self.temperature_C, self.pressure_hPa, self.humidity_pct = env["temperature_C"], env["pressure_hPa"], env["humidity_pct"]
        self.evaporation_mg_per_h = rig_config.section("evaporation_correction")["rate_mg_per_h"]
        self.concentration = rig_config.concentration_U_per_mL
        scale = rig_config.section("scale")
        self.repeatability_mg, self.readability_mg = scale["repeatability_mg"], scale["readability_mg"]

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

    def u_difference_U(self) -> float:
        """Standard uncertainty (U) of an amount weighed as the difference of two readings."""
        return float(self.units(difference_uncertainty_mg(self.repeatability_mg, self.readability_mg)))
