"""Emulator parameters: defaults with their sources, overridden by a rig file's `emulator:` section.

Every number here is either taken from ../shared/REFERENCES.md (the section is named) or marked [E]:
an estimate with its derivation, to be replaced by a bench measurement.
"""

from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class PumpParams:
    model: str = "RP-1"
    serial: str = "EMU-0001"
    firmware: str = "1.0.0"
    # 0.05 U pulses: Omnipod; MiniMed 722G bolus 0.05 U every 2 s (metrology.md §1.6).
    stroke_U: float = 0.05
    # [E] 10 % per-stroke SD: well inside the Omnipod 5 label spread for 0.05 U doses
    # (n = 5987, 0.00-0.119 U) and below the 38-46 % that DT&T 2020 measured at 0.1 U/h (metrology.md §1.6).
    stroke_cv: float = 0.10
    # Basal 0.05-30 U/h in 0.05 steps, bolus 0.05-30 U (Omnipod 5 label, standards-and-clinical.md §4).
    basal_min_U_per_h: float = 0.05
    basal_max_U_per_h: float = 30.0
    bolus_min_U: float = 0.05
    bolus_max_U: float = 30.0
    increment_U: float = 0.05
    # Standard bolus speed 1.5 U/min (Medtronic; Omnipod 0.025 U/s), quick 15 U/min used for priming
    # (640G/670G "quick"), REFERENCES.md "Bolus speeds".
    bolus_speed_U_per_min: float = 1.5
    quick_bolus_speed_U_per_min: float = 15.0
    prime_speed_U_per_min: float = 15.0
    # 300 U cartridge (Tandem t:slim X2, standards-and-clinical.md §4).
    reservoir_U: float = 300.0
    # [E] plunger slack taken up at the first travel after a new reservoir; no published value was
    # retrieved (Batista 2015 on start-up delay is listed as not retrieved in metrology.md §1.5).
    slack_U: float = 0.3
    # Occlusion alarm at a line pressure of 100 kPa: the Wellion pump's 100 ± 30 kPa threshold
    # (REFERENCES.md "Occlusion"). With the 0.25 µL/kPa line it is 25 µL = 2.5 U missed, inside the
    # labelled 2.5-3.0 U (MMT-511 "up to 3.0 U", Veo 2.77 U average).
    occlusion_threshold_kPa: float = 100.0
    # [E] after an occlusion alarm the plunger backs off by the volume that relieves the threshold
    # pressure of the nominal line: 100 kPa × 0.25 µL/kPa = 25 µL = 2.5 U. No published figure was
    # retrieved; the Wellion label bounds what may be released in a fault (0.25 U).
    occlusion_backoff_U: float = 2.5
    # Site check: the firmware reads the resting line pressure (the tissue back-pressure) before every basal
    # stroke, learns it over the first strokes after a prime, and raises CHECK_SITE when the mean of the last
    # readings falls below a share of it: a leak or a dislodged cannula takes the back-pressure away, which
    # pressure-based occlusion detection cannot see (REFERENCES.md "Insertion-site faults"). The pump's own
    # design parameters, settable from the rig file; all [E]: chosen so that a 50 % leak (resting pressure
    # 2.5 kPa) is 3 standard errors below the 3.0 kPa threshold with 10 readings of 0.5 kPa noise, and nominal
    # (5 kPa) 12 above it.
    site_check: bool = True
    site_learn_strokes: int = 20
    site_window_strokes: int = 10
    site_drop_fraction: float = 0.6
    # [E] noise of the plunger force sensor read as pressure, one reading (SD).
    pressure_noise_kPa: float = 0.5
    # IEC 60601-1-8: a fault whose harm comes with a delay (no insulin: hyperglycaemia over hours) is MEDIUM
    # priority (REFERENCES.md "Alarms"). Unacknowledged it escalates to HIGH: SmartGuard sounds a siren after
    # 10 min without response (standards-and-clinical.md §5); [E] this pump's design escalates at 5 min, half
    # that, so that the 10-min requirement holds with room to spare.
    site_alarm_priority: str = "MEDIUM"
    alarm_escalation_s: float = 300.0


@dataclass(frozen=True)
class FluidPathParams:
    # System compliance 0.25 µL/kPa (REFERENCES.md "Occlusion", metrology.md §1.6 model).
    compliance_uL_per_kPa: float = 0.25
    # [E] outflow time constant τ = R·C = 4.69 s, chosen so that a 1 U bolus at 1.5 U/min (20 strokes of
    # 0.05 U every 2 s, the first at the command, nominal end at 40 s) still holds
    # 0.5 µL·Σ_{k=1..20} e^(−2k/τ) = 9.4 % of it in the line at its nominal end, as measured for the
    # MiniMed 722G (video microscopy, JDST 2022, doi 10.1177/19322968221115749): R = 4.69 s / 0.25 µL/kPa.
    resistance_kPa_s_per_uL: float = 18.76
    # [E] tissue back-pressure at the cannula tip, the line's resting pressure. Subcutaneous tissue opposes an
    # infusion with a counter-pressure that grows with the infused volume (Thomsen et al., PLoS ONE 2014,
    # 9:e104054: bulk modulus ~1e5 Pa); no figure at pump flows is in REFERENCES.md. 5 kPa, 5 % of the
    # occlusion threshold, stands in until the bench's back-pressure fixture is measured.
    tissue_pressure_kPa: float = 5.0


@dataclass(frozen=True)
class BalanceParams:
    model: str = "XS205DU-EMU"
    serial: str = "B000000001"
    # Semi-micro balance: 0.01 mg readability, repeatability 0.01-0.02 mg (metrology.md §1.3).
    readability_mg: float = 0.01
    repeatability_mg: float = 0.015
    # [E] first-order settling, "τ of a few seconds" (metrology.md §1.3 emulator noise model).
    settling_tau_s: float = 2.0
    # [E] slow drift as a random walk; 0.003 mg/√h keeps it below one readability step per hour.
    drift_mg_per_sqrt_h: float = 0.003
    # [E] a typical semi-micro capacity; with a 35 g vessel it leaves far more room than a campaign fills.
    capacity_g: float = 220.0
    # SIR repeat interval: the real maximum is model-dependent and unverified, "~1-10 Hz" (metrology.md §1.3).
    sir_interval_s: float = 1.0


@dataclass(frozen=True)
class LoadCellParams:
    """A strain-gauge load cell with its CAN amplifier, coarser than the semi-micro balance. No load-cell
    figures are in REFERENCES.md: all [E], typical of a 100 g cell on a 24-bit amplifier, to be replaced by
    the data sheet of the bench's cell."""

    model: str = "LC100-CAN-EMU"
    serial: int = 7001
    resolution_mg: float = 0.1  # [E]
    noise_mg: float = 0.5  # [E] standard deviation of one sample
    filter_tau_s: float = 0.2  # [E] the amplifier's low-pass filter
    capacity_g: float = 100.0  # [E]


@dataclass(frozen=True)
class VesselParams:
    # [E] a small glass beaker; only its tare matters (removed by the tare procedure).
    tare_g: float = 35.0
    # Paraffin-oil layer on the collected water (PMC10540045, 1.5 mm; standards-and-clinical.md §1.1).
    oil_layer: bool = True
    # [E] open 25 mm beaker at 50 % RH: 14-43 mg/h by the diffusion model; midpoint 28 mg/h,
    # scaled with (1 − RH) (metrology.md §1.4).
    open_evaporation_mg_per_h_at_50pct: float = 28.0
    # [E] an oil layer leaves ≤ 1 % of the open rate (metrology.md §1.4).
    oil_evaporation_factor: float = 0.01


@dataclass(frozen=True)
class Environment:
    # IEC 60601-2-24 normal test conditions: 20 ± 2 °C, 65 ± 5 % RH (standards-and-clinical.md §1.1).
    temperature_C: float = 20.0
    pressure_hPa: float = 1013.25
    humidity_pct: float = 65.0


@dataclass(frozen=True)
class Defects:
    """Seeded faults that make the emulated pump violate dose-accuracy requirements on purpose."""

    stroke_volume_bias: float = 0.0  # relative: 0.08 = every stroke 8 % too large
    basal_period_drift: float = 0.0  # relative: 0.10 = basal strokes 10 % further apart
    bolus_missing_last_strokes: int = 0  # the last N strokes of every bolus are not delivered
    occlusion_alarm_priority: str = ""  # raise the occlusion alarm at this priority instead of HIGH
    occlusion_keeps_delivering: bool = False  # raise the occlusion alarm but do not stop the motor
    occlusion_no_backoff: bool = False  # never back the plunger off after an occlusion alarm
    lgs_suspend_one_interval_late: bool = False  # act on a suspend rule only at the next CGM value
    lgs_motor_keeps_stepping: bool = False  # "suspended" by the low-glucose logic, basal strokes go on
    lgs_never_auto_resumes: bool = False  # no resume on recovered glucose (the 2-h limit still applies)
    lgs_ignores_prediction: bool = False  # suspend on low only, never before
    lgs_no_max_duration: bool = False  # no 2-h limit on an automatic suspension
    lgs_blocked_after_bolus: bool = False  # a bolus leaves the suspend logic off until the pump is stopped
    site_leak_detection_disabled: bool = False  # the site check alarms only on a fully lost back-pressure
    site_alarm_priority: str = ""  # raise CHECK_SITE at this priority instead of the pump's
    site_detector_oversensitive: bool = False  # the site check alarms at a 5 % drop instead of its design value
    site_alarm_no_escalation: bool = False  # an unacknowledged CHECK_SITE never escalates


@dataclass(frozen=True)
class EmulatorConfig:
    seed: int = 1
    can_dbc: str = ""  # the CAN database; empty: the reference fixtures/can/pump.dbc
    # The heartbeat period is the device's choice (the protocol only counts them); 60 s keeps a simulated
    # day at 1,440 frames, so a 12-day run over CAN is not dominated by heartbeats.
    can_heartbeat_s: float = 60.0
    pump: PumpParams = field(default_factory=PumpParams)
    fluid_path: FluidPathParams = field(default_factory=FluidPathParams)
    balance: BalanceParams = field(default_factory=BalanceParams)
    # The second balance, under the diverter's vessel: what a leak or a dislodged cannula loses.
    lost_balance: BalanceParams = field(default_factory=lambda: BalanceParams(serial="B000000002"))
    loadcell: LoadCellParams = field(default_factory=LoadCellParams)
    vessel: VesselParams = field(default_factory=VesselParams)
    environment: Environment = field(default_factory=Environment)
    defects: Defects = field(default_factory=Defects)

    @classmethod
    def from_rig(cls, rig: dict[str, Any]) -> "EmulatorConfig":
        """Build from a rig file's mapping: its `emulator:` section plus its `environment:`."""
        section = dict(rig.get("emulator") or {})
        section["environment"] = rig.get("environment") or {}
        return _build(cls, section, "emulator")


def _build(cls, data: dict[str, Any], where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})")
    values = {}
    default = cls()
    for name, value in data.items():
        current = getattr(default, name)
        if hasattr(current, "__dataclass_fields__"):
            values[name] = _build(type(current), value or {}, f"{where}.{name}")
        elif isinstance(current, (int, float)) and not isinstance(current, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{where}.{name}: expected a number, got {value!r}")
            values[name] = type(current)(value) if isinstance(current, float) else value
        else:
            values[name] = value
    return replace(default, **values)
