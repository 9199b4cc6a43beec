"""Balance indication → delivered volume → insulin units (ISO 8655-6 / ISO 4787 form).

V = I / (ρ_W − ρ_A) · (1 − ρ_A / ρ_B), with ρ_W from Tanaka et al. (Metrologia 38:301, 2001), ρ_A from the
OIML R111-1 approximation and ρ_B = 8000 kg/m³ (reference weights):
docs/references.md, "Units and the conversion of mass to volume".
Masses in mg, volumes in µL, densities in kg/m³ (numerically mg/µL × 1000).
"""

import numpy as np

REFERENCE_WEIGHT_DENSITY = 8000.0
_A1, _A2, _A3, _A4, _A5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950


def water_density(temperature_c: float) -> float:
    """Air-free water density, kg/m³ (Tanaka 2001): 998.2067 at 20 °C, 997.0470 at 25 °C."""
    t = temperature_c
    return _A5 * (1 - (t + _A1) ** 2 * (t + _A2) / (_A3 * (t + _A4)))


def air_density(temperature_c: float, pressure_hpa: float, humidity_pct: float) -> float:
    """Moist-air density, kg/m³ (OIML R111-1 approximation): ≈1.199 at 20 °C, 1013 hPa, 50 %."""
    t = temperature_c
    return (0.34848 * pressure_hpa - 0.009 * humidity_pct * np.exp(0.061 * t)) / (273.15 + t)


def indication_per_microlitre(temperature_c: float, pressure_hpa: float, humidity_pct: float) -> float:
    """Balance indication (mg) that one µL of water produces: the inverse of the Z factor."""
    rho_a = air_density(temperature_c, pressure_hpa, humidity_pct)
    return (water_density(temperature_c) - rho_a) / (1 - rho_a / REFERENCE_WEIGHT_DENSITY) / 1000.0


def mass_to_volume(mass_mg, temperature_c: float, pressure_hpa: float, humidity_pct: float):
    """Delivered volume in µL for balance indications in mg (scalar or array)."""
    return np.asarray(mass_mg, dtype=float) / indication_per_microlitre(temperature_c, pressure_hpa, humidity_pct)


def evaporation_corrected(t_s, mass_mg, rate_mg_per_h: float):
    """Indications with the mass lost to evaporation since the first sample added back."""
    t = np.asarray(t_s, dtype=float)
    return np.asarray(mass_mg, dtype=float) + rate_mg_per_h * (t - t[0]) / 3600.0


def blank_run_rate(t_s, mass_mg) -> float:
    """Evaporation rate (mg/h, positive for a loss) fitted by least squares to a blank run."""
    t = np.asarray(t_s, dtype=float)
    slope_mg_per_s = np.polyfit(t - t[0], np.asarray(mass_mg, dtype=float), 1)[0]
    return -slope_mg_per_s * 3600.0


BLANK_SEGMENT_S = 3600.0  # a blank run's rate is also taken hour by hour: how much one hour's loss varies


def blank_run(t_s, mass_mg, segment_s: float = BLANK_SEGMENT_S) -> tuple[float, float, int]:
    """A blank run (the vessel weighed for hours with nothing delivered; evaporation from an open vessel can weigh
    as much as a 1-4 U/h basal, the project's estimate that the rig's own blank run replaces:
    docs/references.md, "The gravimetric set-up"):
    (rate in mg/h lost, its standard uncertainty in mg/h, number of segments). The rate is blank_run_rate over the
    whole run; its uncertainty the standard deviation of the rates of the run's whole segments of segment_s,
    which holds for any one hour a test corrects, as the rig file's u_rate_mg_per_h is used. ValueError with
    fewer than two whole segments of three readings, or a reading that is not finite."""
    t, m = np.asarray(t_s, dtype=float), np.asarray(mass_mg, dtype=float)
    if t.size < 3 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(m))):
        raise ValueError("a blank run needs at least three finite readings")
    segments = []
    for k in range(int((t[-1] - t[0]) // segment_s)):
        inside = (t >= t[0] + k * segment_s) & (t <= t[0] + (k + 1) * segment_s)
        if inside.sum() >= 3:
            segments.append(blank_run_rate(t[inside], m[inside]))
    if len(segments) < 2:
        raise ValueError(f"a blank run needs at least two whole segments of {segment_s:g} s with three readings each")
    return blank_run_rate(t, m), float(np.std(segments, ddof=1)), len(segments)


def volume_to_units(volume_ul, concentration_u_per_ml: float = 100.0):
    """Insulin units in a volume: U-100 means 1 U = 10 µL."""
    return np.asarray(volume_ul, dtype=float) * concentration_u_per_ml / 1000.0
