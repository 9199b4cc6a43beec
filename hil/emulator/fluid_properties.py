"""The emulator's own weighing physics: what a delivered volume of water makes the balance indicate.

Written apart from hil/analysis on purpose: if the emulator turned volume into indication with
the harness's formula, an error in that formula would cancel between the rig and the analysis and no test could
see it. So the sources differ from the harness's (Tanaka 2001 water, OIML R 111-1 approximate air density):

- Water: Kell, G.S., "Density, thermal expansivity, and compressibility of liquid water from 0 to 150 °C",
  J. Chem. Eng. Data 20:97 (1975), eq. 16, air-free water at 101.325 kPa, on the IPTS-68 scale; the ITS-90
  temperature is converted with t68 = 1.00024·t90 (P. M. Saunders, "The International Temperature Scale of
  1990, ITS-90", WOCE Newsletter 10, 1990; good to a few mK over 0-40 °C). Kell's scale lies 3-4 ppm below the
  VSMOW-based densities of Tanaka et al. 2001 and IAPWS-95 between 0 and 40 °C.
- Air: the CIPM-2007 equation for the density of moist air (Picard, Davis, Gläser, Fujii, Metrologia 45:149,
  2008), with the mole fraction of CO2 at its reference 0.0004.
- Balance: calibrated with weights of the OIML R 111-1 conventional density 8000 kg/m³, so it indicates
  m·(1 − ρ_air/ρ_water)/(1 − ρ_air/8000) for a mass m of water in air of density ρ_air.

Temperatures in °C, pressures in hPa, relative humidity in %, densities in kg/m³, indications in mg per µL.
"""

import math

# Kell 1975, eq. 16 (IPTS-68 °C): ρ = (Σ c_i·t^i) / (1 + b·t), kg/m³.
_KELL_NUMERATOR = (999.83952, 16.945176, -7.9870401e-3, -46.170461e-6, 105.56302e-9, -280.54253e-12)
_KELL_B = 16.879850e-3
_T68_PER_T90 = 1.00024  # Saunders 1990: t68 ≈ 1.00024·t90 between 0 and 100 °C

# CIPM-2007 (Picard et al. 2008), SI units.
_PSV_A, _PSV_B, _PSV_C, _PSV_D = 1.2378847e-5, -1.9121316e-2, 33.93711047, -6.3431645e3  # saturation vapour pressure
_F_ALPHA, _F_BETA, _F_GAMMA = 1.00062, 3.14e-8, 5.6e-7  # enhancement factor
_Z_A0, _Z_A1, _Z_A2 = 1.58123e-6, -2.9331e-8, 1.1043e-10  # compressibility factor
_Z_B0, _Z_B1, _Z_C0, _Z_C1 = 5.707e-6, -2.051e-8, 1.9898e-4, -2.376e-6
_Z_D, _Z_E = 1.83e-11, -0.765e-8
_R = 8.314472  # J/(mol·K), the value CIPM-2007 uses
_M_WATER = 18.01528e-3  # kg/mol
CO2_MOLE_FRACTION = 0.0004  # CIPM-2007 reference

CALIBRATION_WEIGHT_DENSITY = 8000.0  # OIML R 111-1 conventional density of the balance's reference weights


def water_density(temperature_c: float) -> float:
    """Air-free water at 101.325 kPa, kg/m³ (Kell 1975 on ITS-90): 999.972 at 4 °C, 998.203 at 20 °C."""
    t = temperature_c * _T68_PER_T90
    numerator = 0.0
    for c in reversed(_KELL_NUMERATOR):
        numerator = numerator * t + c
    return numerator / (1.0 + _KELL_B * t)


def saturation_vapour_pressure_pa(temperature_c: float) -> float:
    """Over liquid water, Pa (CIPM-2007 eq. A1.1): 2339 Pa at 20 °C."""
    T = temperature_c + 273.15
    return math.exp(_PSV_A * T * T + _PSV_B * T + _PSV_C + _PSV_D / T)


def air_density(
    temperature_c: float, pressure_hpa: float, humidity_pct: float, co2_mole_fraction: float = CO2_MOLE_FRACTION
) -> float:
    """Moist air, kg/m³ (CIPM-2007): 1.2041 dry and 1.1990 at 50 % RH, both at 20 °C and 1013.25 hPa."""
    t, T, p = temperature_c, temperature_c + 273.15, pressure_hpa * 100.0
    enhancement = _F_ALPHA + _F_BETA * p + _F_GAMMA * t * t
    x_v = humidity_pct / 100.0 * enhancement * saturation_vapour_pressure_pa(t) / p
    z = (
        1.0
        - p / T * (_Z_A0 + _Z_A1 * t + _Z_A2 * t * t + (_Z_B0 + _Z_B1 * t) * x_v + (_Z_C0 + _Z_C1 * t) * x_v * x_v)
        + p * p / (T * T) * (_Z_D + _Z_E * x_v * x_v)
    )
    m_air = (28.96546 + 12.011 * (co2_mole_fraction - 0.0004)) * 1e-3
    return p * m_air / (z * _R * T) * (1.0 - x_v * (1.0 - _M_WATER / m_air))


def balance_indication_mg_per_uL(temperature_c: float, pressure_hpa: float, humidity_pct: float) -> float:
    """What one µL of water weighed in air makes a balance calibrated with 8000 kg/m³ weights indicate, mg.

    The water's mass is ρ_w·1 µL; air buoyancy lifts it by ρ_air·1 µL and lifted the calibration weights by
    ρ_air/8000 of their mass, so the indication is ρ_w·(1 − ρ_air/ρ_w)/(1 − ρ_air/8000)."""
    rho_w = water_density(temperature_c)
    rho_air = air_density(temperature_c, pressure_hpa, humidity_pct)
    mass_mg_per_uL = rho_w / 1000.0  # kg/m³ = mg/cm³ = 1e-3 mg/µL
    return mass_mg_per_uL * (1.0 - rho_air / rho_w) / (1.0 - rho_air / CALIBRATION_WEIGHT_DENSITY)
