"""Emulator parameters: defaults with their sources, overridden by a rig file's `emulator:` section.

Every number here is either taken from a source in `docs/references.md` (its section is named) or marked [E]: the
project's estimate with its derivation, to be replaced by a bench measurement. The models are strict (no string for a
bool, no NaN, each number in the range it can physically take) and frozen; the rig's JSON Schema is generated
from them (hil/rig/model.py).
"""

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

from hil.emulation.wire_faults import WireFault

ENDPOINTS = ("pump", "balance", "balance-lost", "control", "can")  # what `@emulator:<name>` may name in a rig file
Priority = Literal["LOW", "MEDIUM", "HIGH"]
DefectPriority = Literal["", "LOW", "MEDIUM", "HIGH"]  # "": the pump's own
Name = Annotated[str, Field(min_length=1, max_length=64)]


def span(low: float, high: float, *, above: bool = False) -> FieldInfo:
    """The range a parameter can physically take, [low, high] or (low, high] with `above`, as the metadata of
    an annotation: `Annotated[float, span(0, 1)]` (a type checker sees the float)."""
    return Field(gt=low, le=high) if above else Field(ge=low, le=high)


def count(low: int, high: int) -> FieldInfo:
    """An integer in [low, high], as the metadata of `Annotated[int, count(low, high)]`."""
    return Field(ge=low, le=high)


class Params(BaseModel):
    """Strict, frozen, no unknown keys, finite numbers."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)


class PumpParams(Params):
    model: Name = "RP-1"
    serial: Name = "EMU-0001"
    firmware: Name = "1.0.0"
    # A vendor variant's service-session key (hil/emulator/session_lock.py): set, the serial link takes only ID, STOP
    # and UNLOCK until unlocked by HMAC challenge and response; empty: the plain reference protocol.
    session_key: Annotated[str, Field(max_length=256)] = ""
    # 0.05 U pulses: Omnipod; MiniMed 722G bolus 0.05 U every 2 s (docs/references.md, "Pump mechanics").
    stroke_U: Annotated[float, span(0, 1, above=True)] = 0.05
    # [E] 10 % per-stroke SD: well inside the Omnipod 5 label spread for 0.05 U doses (n = 5987, 0.00-0.119 U) and
    # below the 38-46 % that DT&T 2020 measured at 0.1 U/h (docs/references.md, "Pump mechanics").
    stroke_cv: Annotated[float, span(0, 1)] = 0.10
    # Basal 0.05-30 U/h in 0.05 steps, bolus 0.05-30 U (Omnipod 5 label, docs/references.md, "Pump mechanics").
    basal_min_U_per_h: Annotated[float, span(0, 100, above=True)] = 0.05
    basal_max_U_per_h: Annotated[float, span(0, 100, above=True)] = 30.0
    bolus_min_U: Annotated[float, span(0, 100, above=True)] = 0.05
    bolus_max_U: Annotated[float, span(0, 100, above=True)] = 30.0
    increment_U: Annotated[float, span(0, 10, above=True)] = 0.05
    # Standard bolus speed 1.5 U/min (Medtronic; Omnipod 0.025 U/s), quick 15 U/min used for priming
    # (640G/670G "quick"), docs/references.md, "Pump mechanics".
    bolus_speed_U_per_min: Annotated[float, span(0, 100, above=True)] = 1.5
    quick_bolus_speed_U_per_min: Annotated[float, span(0, 100, above=True)] = 15.0
    prime_speed_U_per_min: Annotated[float, span(0, 100, above=True)] = 15.0
    # [E] A runaway motor (a driver stage stuck on) moves the plunger at the motor's full speed, the prime speed above.
    # The reference firmware's supervisor compares the encoder's strokes with the commanded ones at every stroke and
    # cuts the motor's power at the second uncommanded one: 0.1 U, inside Wellion's labelled 0.25 U at most in a
    # fault, as the D-TRONplus's supervisor processor switches the motor off. No published trip count was found
    # (docs/references.md, "Over-infusion under a single fault").
    runaway_trip_strokes: Annotated[int, Field(ge=1, le=1000)] = 2
    # 300 U cartridge (Tandem t:slim X2, docs/references.md, "Pump mechanics").
    reservoir_U: Annotated[float, span(0, 10_000, above=True)] = 300.0
    # The low-reservoir alert: at power-up 20 U, settable 10-40 U (Tandem t:slim X2's Low Insulin Alert,
    # docs/references.md, "The reservoir").
    reservoir_alert_U: Annotated[float, span(0, 10_000, above=True)] = 20.0
    reservoir_alert_min_U: Annotated[float, span(0, 10_000, above=True)] = 10.0
    reservoir_alert_max_U: Annotated[float, span(0, 10_000, above=True)] = 40.0
    # [E] plunger slack taken up at the first travel after a new reservoir; no published value was
    # retrieved (Batista 2015 on start-up delay was not available: docs/references.md, "Pump mechanics").
    slack_U: Annotated[float, span(0, 100)] = 0.3
    # Occlusion alarm at a line pressure of 100 kPa: the Wellion pump's 100 ± 30 kPa threshold
    # (docs/references.md, "Occlusion detection"). With the 0.25 µL/kPa line it is 25 µL = 2.5 U missed, inside the
    # labelled 2.5-3.0 U (Wellion 2.5 U average, MMT-511 "up to 3.0 U", Veo 2.77 U average).
    occlusion_threshold_kPa: Annotated[float, span(0, 10_000, above=True)] = 100.0
    # [E] after an occlusion alarm the plunger backs off by the volume that relieves the threshold
    # pressure of the nominal line: 100 kPa × 0.25 µL/kPa = 25 µL = 2.5 U. No published figure was
    # retrieved; the Wellion label's 0.25 U is the most it delivers in a fault, not a volume released when an
    # occlusion clears (docs/references.md, "Occlusion detection").
    occlusion_backoff_U: Annotated[float, span(0, 100)] = 2.5
    # Site check: the firmware reads the resting line pressure (the tissue back-pressure) before every basal
    # stroke, learns it over the first strokes after a prime, and raises CHECK_SITE when the mean of the last
    # readings falls below a share of it: a leak or a dislodged cannula takes the back-pressure away, which
    # pressure-based occlusion detection cannot see (docs/references.md, "Insertion-site faults"). The pump's own
    # design parameters, settable from the rig file; all [E]: chosen so that a 50 % leak (resting pressure
    # 2.5 kPa) is 3 standard errors below the 3.0 kPa threshold with 10 readings of 0.5 kPa noise, and nominal
    # (5 kPa) 12 above it.
    site_check: bool = True
    site_learn_strokes: Annotated[int, count(1, 10_000)] = 20
    site_window_strokes: Annotated[int, count(1, 10_000)] = 10
    site_drop_fraction: Annotated[float, span(0, 1)] = 0.6
    # [E] noise of the plunger force sensor read as pressure, one reading (SD).
    pressure_noise_kPa: Annotated[float, span(0, 1000)] = 0.5
    # IEC 60601-1-8 categories: a fault whose harm comes with a delay (no insulin: hyperglycaemia over hours) is
    # MEDIUM priority, the project's judgement. Unacknowledged it escalates to HIGH: SmartGuard sounds a siren after
    # 10 min without response; [E] this pump's design escalates at 5 min, half that, so that the 10-min requirement
    # holds with room to spare (docs/references.md, "Alarm priorities").
    site_alarm_priority: Priority = "MEDIUM"
    alarm_escalation_s: Annotated[float, span(0, 86_400, above=True)] = 300.0
    # A time change only with delivery paused, as Omnipod 5's user must pause insulin before changing the time zone
    # (docs/references.md, "Time of day"); the reference pump takes it running.
    time_change_needs_pause: bool = False
    # The bolus calculator uses a glucose value taken within 10 min: Omnipod 5 uses a meter reading for up to 10 min
    # after it was entered, and Insulet's 2020 Omnipod DASH correction was of advice from a value more than 10 min old
    # (docs/references.md, "The bolus calculator").
    calculator_glucose_max_age_s: Annotated[float, span(0, 86_400)] = 600.0
    # A seeded rig fault, no physics: the rate of the clock STATUS reports (the contract's pump_time) against the
    # emulator's. 1 keeps the rig's time; anything else is a pump on a time of its own, which the harness must refuse
    # to judge (hil/procedures/pump_clock.py).
    clock_rate: Annotated[float, span(0, 100, above=True)] = 1.0

    @model_validator(mode="after")
    def _alert_in_its_range(self) -> "PumpParams":
        low, high = self.reservoir_alert_min_U, self.reservoir_alert_max_U
        if not low <= self.reservoir_alert_U <= high:
            raise ValueError(f"reservoir_alert_U {self.reservoir_alert_U:g} is not within {low:g}-{high:g}")
        return self


class FluidPathParams(Params):
    # [E] system compliance 0.25 µL/kPa: 25 µL (2.5 U) stored at the 100 kPa threshold, the project's line model
    # (docs/references.md, "Occlusion detection").
    compliance_uL_per_kPa: Annotated[float, span(0, 1000, above=True)] = 0.25
    # [E] outflow time constant τ = R·C = 4.69 s, chosen so that a 1 U bolus at 1.5 U/min (20 strokes of
    # 0.05 U every 2 s, the first at the command, nominal end at 40 s) still holds
    # 0.5 µL·Σ_{k=1..20} e^(−2k/τ) = 9.4 % of it in the line at its nominal end, as measured for the
    # MiniMed 722G (video microscopy, JDST 2022, doi 10.1177/19322968221115749): R = 4.69 s / 0.25 µL/kPa.
    resistance_kPa_s_per_uL: Annotated[float, span(0, 1e6, above=True)] = 18.76
    # [E] tissue back-pressure at the cannula tip, the line's resting pressure. Subcutaneous tissue opposes an
    # infusion with a counter-pressure that grows with the infused volume (Thomsen et al., PLoS ONE 2014,
    # 9:e104054: bulk modulus ~1e5 Pa); no published figure at pump flows was found. 5 kPa, 5 % of the
    # occlusion threshold, stands in until the bench's back-pressure fixture is measured.
    tissue_pressure_kPa: Annotated[float, span(0, 1000)] = 5.0


# SBI data output: positions 2-10 of its 16 characters hold the weight (Quintix operating instructions, "Data
# Output Format"; hil/drivers/sartorius_sbi.py).
SBI_WEIGHT_FIELD = 9


class BalanceFault(StrEnum):
    """A balance that does not weigh what the pump delivers, as a bench can be found: seeded rig faults (no physics,
    so no source) for the suite's own tests of what it concludes from such a balance (docs/bench.md, "The balance
    must see the pump")."""

    NONE = "none"
    STUCK = "stuck"  # the display froze at its first reading: every reply the same plausible, stable weight
    DECOUPLED = "decoupled"  # weighs a vessel the pump's line does not reach (the line ends beside the pan)
    UNIT_MG = "unit-mg"  # MT-SICS replies label the weight in g as "mg": a driver reads it 1000 times too small
    SI_ECHO = "si-echo"  # MT-SICS replies to SI begin "SI" where the manual has "S": S works, every recording fails


class ValveFault(StrEnum):
    """An occlusion valve that does not do what it acknowledges: a seeded rig fault (no physics, so no source) for
    the suite's own test that a missing occlusion alarm is blamed on the pump only once the block is shown to hold."""

    NONE = "none"
    STUCK_OPEN = "stuck-open"  # CLOSE acknowledged, the line left open (a relay that clicks, a seat that leaks)


class ValveParams(Params):
    fault: ValveFault = Field(default=ValveFault.NONE, strict=False)  # YAML gives the word


class BalanceParams(Params):
    # The wire protocol the balance speaks: Mettler-Toledo MT-SICS (docs/protocol.md §2) or Sartorius SBI
    # (docs/protocol.md §2a); one weighing model behind either (hil/emulator/weighing.py).
    protocol: Literal["mt-sics", "sbi"] = Field(
        default="mt-sics",
        description=(
            "the balance's protocol: mt-sics (Mettler-Toledo MT-SICS) or sbi (Sartorius SBI); the same weighing physics"
        ),
    )
    model: Name = "XS205DU-EMU"
    serial: Name = "B000000001"
    # [E] SBI only (ESC x3_): a version string for the emulated balance's software; nothing depends on it.
    software: Name = "EMU-1.0"
    # Semi-micro balance: 0.01 mg readability, repeatability 0.01-0.02 mg (docs/references.md, "Balances").
    readability_mg: Annotated[float, span(0, 1000, above=True)] = 0.01
    repeatability_mg: Annotated[float, span(0, 1000)] = 0.015
    # [E] first-order settling with a time constant of a few seconds (docs/references.md, "Balances").
    settling_tau_s: Annotated[float, span(0, 3600)] = 2.0
    # [E] slow drift as a random walk; 0.003 mg/√h keeps it below one readability step per hour.
    drift_mg_per_sqrt_h: Annotated[float, span(0, 1000)] = 0.003
    # [E] a typical semi-micro capacity; with a 35 g vessel it leaves far more room than a campaign fills.
    capacity_g: Annotated[float, span(0, 1e6, above=True)] = 220.0
    # [E] a balance zeroes only a pan near its power-on zero (MT-SICS answers Z + or Z - beyond it, SBI ignores the
    # key): a few % of the capacity, so a 35 g vessel (16 % of 220 g) is tared, never zeroed.
    zero_range_pct: Annotated[float, span(0, 100)] = 4.0
    # [E] SIR repeat interval: the real maximum is model-dependent and unverified, 1-10 Hz assumed
    # (docs/references.md, "Balances").
    sir_interval_s: Annotated[float, span(0, 3600, above=True)] = 1.0
    fault: BalanceFault = Field(default=BalanceFault.NONE, strict=False)  # YAML gives the word

    @property
    def display_decimals(self) -> int:
        """Decimals of a weight in g at this readability (0.01 mg: 5)."""
        return max(0, -math.floor(math.log10(self.readability_mg / 1000.0) + 1e-9))

    @model_validator(mode="after")
    def _fits_the_sbi_field(self) -> "BalanceParams":
        """An SBI balance shows every weight it can hold (up to ±1 % beyond its capacity, after a tare, and a
        step of rounding: 1.02 × capacity) in the 9 characters of its output's weight field."""
        widest = f"{1.02 * self.capacity_g:.{self.display_decimals}f}"
        if self.protocol == "sbi" and len(widest) > SBI_WEIGHT_FIELD:
            raise ValueError(
                f"an SBI balance of {self.capacity_g:g} g at {self.readability_mg:g} mg readability "
                f"needs {len(widest)} characters ({widest}) for a weight; SBI's weight field has "
                f"{SBI_WEIGHT_FIELD}"
            )
        return self

    @model_validator(mode="after")
    def _fault_in_its_protocol(self) -> "BalanceParams":
        """A unit label and an SI reply exist in MT-SICS only (SBI prints a stable weight's unit, which its driver
        checks, and has no SI)."""
        if self.fault in (BalanceFault.UNIT_MG, BalanceFault.SI_ECHO) and self.protocol != "mt-sics":
            raise ValueError(f"fault {self.fault} is a wrong MT-SICS reply: set protocol: mt-sics")
        return self


class LoadCellParams(Params):
    """A strain-gauge load cell with its CAN amplifier, coarser than the semi-micro balance. No load-cell
    figure has a source: all [E], typical of a 100 g cell on a 24-bit amplifier, to be replaced by the data
    sheet of the bench's cell."""

    model: Name = "LC100-CAN-EMU"
    serial: Annotated[int, count(0, 2**32 - 1)] = 7001
    resolution_mg: Annotated[float, span(0, 1e6, above=True)] = 0.1  # [E]
    noise_mg: Annotated[float, span(0, 1e6)] = 0.5  # [E] standard deviation of one sample
    filter_tau_s: Annotated[float, span(0, 3600)] = 0.2  # [E] the amplifier's low-pass filter
    capacity_g: Annotated[float, span(0, 1e6, above=True)] = 100.0  # [E]


class VesselParams(Params):
    # [E] a small glass beaker; only its tare matters (removed by the tare procedure).
    tare_g: Annotated[float, span(0, 1e5)] = 35.0
    # Paraffin-oil layer on the collected water (PMC10540045, 1.5 mm; docs/references.md, "The gravimetric set-up").
    oil_layer: bool = True
    # [E] open 25 mm beaker at 50 % RH: 14-43 mg/h by the diffusion model; midpoint 28 mg/h,
    # scaled with (1 − RH) (docs/references.md, "The gravimetric set-up").
    open_evaporation_mg_per_h_at_50pct: Annotated[float, span(0, 10_000)] = 28.0
    # [E] an oil layer leaves ≤ 1 % of the open rate (docs/references.md, "The gravimetric set-up").
    oil_evaporation_factor: Annotated[float, span(0, 1)] = 0.01


class Environment(Params):
    # A bench between 0 and 60 °C, from sea level to 5 km: anything outside is a typo.
    # IEC 60601-2-24 normal test conditions: 20 ± 2 °C, 65 ± 5 % RH (docs/references.md, "The gravimetric set-up").
    temperature_C: Annotated[float, span(0, 60)] = 20.0
    pressure_hPa: Annotated[float, span(500, 1100)] = 1013.25
    humidity_pct: Annotated[float, span(0, 100)] = 65.0


class Defects(Params):
    """Seeded faults that make the emulated pump violate dose-accuracy requirements on purpose."""

    stroke_volume_bias: Annotated[float, span(-0.9, 10)] = 0.0  # relative: 0.08 = every stroke 8 % too large
    basal_period_drift: Annotated[float, span(-0.9, 10)] = 0.0  # relative: 0.10 = basal strokes 10 % further apart
    # the last N strokes of every bolus are not delivered
    bolus_missing_last_strokes: Annotated[int, count(0, 10_000)] = 0
    # every Nth bolus since RESET is counted (STATUS, HISTORY) and reported done (BOLUS_DONE) but the motor never
    # moves: one bolus in N delivers nothing while the pump believes it delivered it (0: off)
    bolus_skip_every: Annotated[int, count(0, 10_000)] = 0
    # every Nth counted stroke (basal or bolus) is logged twice: the history and `delivered` count a stroke that
    # never moved, delivery itself is right (0: off)
    history_phantom_stroke_every: Annotated[int, count(0, 10_000)] = 0
    # relative: 0.20 = standard-speed bolus strokes come at 80 % of the declared speed (the reply's duration and
    # the BOLUS_DONE amount stay as declared): each bolus ends 25 % late
    bolus_speed_shortfall: Annotated[float, span(0, 0.9)] = 0.0
    occlusion_alarm_priority: DefectPriority = ""  # raise the occlusion alarm at this priority instead of HIGH
    occlusion_keeps_delivering: bool = False  # raise the occlusion alarm but do not stop the motor
    occlusion_no_backoff: bool = False  # never back the plunger off after an occlusion alarm
    lgs_suspend_one_interval_late: bool = False  # act on a suspend rule only at the next CGM value
    lgs_motor_keeps_stepping: bool = False  # "suspended" by the low-glucose logic, basal strokes go on
    lgs_never_auto_resumes: bool = False  # no resume on recovered glucose (the 2-h limit still applies)
    lgs_ignores_prediction: bool = False  # suspend on low only, never before
    lgs_no_max_duration: bool = False  # no 2-h limit on an automatic suspension
    lgs_blocked_after_bolus: bool = False  # a bolus leaves the suspend logic off until the pump is stopped
    site_leak_detection_disabled: bool = False  # the site check alarms only on a fully lost back-pressure
    site_alarm_priority: DefectPriority = ""  # raise CHECK_SITE at this priority instead of the pump's
    site_detector_oversensitive: bool = False  # the site check alarms at a 5 % drop instead of its design value
    site_alarm_no_escalation: bool = False  # an unacknowledged CHECK_SITE never escalates
    stop_not_idempotent: bool = False  # a STOP while already stopped is refused: a driver-contract breach
    # over-infusion under a single fault
    runaway_not_detected: bool = False  # the supervisor never compares the encoder with the commands: a runaway runs on
    # the reservoir
    low_reservoir_alert_late: bool = False  # the low-reservoir alert raised at a fifth of the amount set
    empty_reservoir_not_detected: bool = False  # at the end of its count the firmware neither alarms nor stops: its
    # strokes go on, the plunger at the end of its travel moving nothing, each counted as delivered
    # the bolus calculator (hil/emulator/bolus_calculator.py)
    calculator_ignores_iob: bool = False  # the advice counts the insulin on board and takes none of it off
    calculator_rounds_up: bool = False  # the advice rounded up to the increment instead of down
    calculator_negative_advice: bool = False  # a reverse correction larger than the meal advised below 0
    calculator_iob_off_correction_only: bool = False  # the insulin on board beyond the correction left on the meal
    calculator_uses_stale_cgm: bool = False  # the CGM's last value used however long ago the CGM took it
    # time of day: the firmware owes basal by the time of day since its last stroke instead of by the time elapsed
    clock_forward_catches_up: bool = False  # a clock set forward: the skipped time's basal delivered at once
    clock_back_holds_basal: bool = False  # a clock set back: no basal until the time of day is back where it was
    clock_am_pm_swapped: bool = False  # the programme read 12 h off the clock the pump shows (a.m. for p.m.)
    # dose limits
    max_bolus_not_enforced: bool = False  # a bolus above the user's maximum bolus is delivered
    temp_basal_limit_not_enforced: bool = False  # the maximum basal rate holds a programmed basal, not a temporary one
    # auto mode (hil/emulator/auto_mode.py)
    aid_no_max_basal_cap: bool = False  # the automatic basal without oref0's max temporary basal
    aid_ignores_iob: bool = False  # insulin on board taken as 0: corrections and increases stack
    aid_no_falling_guard: bool = False  # the zones judged on the current glucose, not the 30-min prediction
    aid_no_cgm_fallback: bool = False  # CGM lost: the last automatic rate goes on, no alert, no exit
    aid_stale_cgm_as_fresh: bool = False  # a CGM value taken more than one interval ago is used as fresh
    aid_correction_scale: Annotated[float, span(0, 100, above=True)] = 1.0  # 10: each correction ten times too large
    aid_basal_not_delivered: bool = False  # the strokes of an automatic increase counted, never moved
    aid_corrects_after_user_bolus: bool = False  # automatic corrections right after a user's bolus (stacking)
    aid_iob_added_to_eventual: bool = False  # eventual glucose = predicted + IOB × ISF: a sign error in oref0's rule
    aid_prediction_ignores_iob: bool = False  # the eventual glucose from the CGM trend alone, no insulin term
    aid_correction_ignores_user_bolus: bool = False  # corrections sized and capped without the user's bolus on board


class AutoModeParams(Params):
    """The pump's auto-mode design (hil/emulator/auto_mode.py), as a maker builds one: the sources are in each
    design's module."""

    # zones: Control-IQ's zones on a 30-min prediction, oref0's sizes, a correction at most once an hour;
    # microbolus: OpenAPS oref0 with super micro boluses (hil/emulator/microbolus.py), no correction spacing.
    design: Literal["zones", "microbolus"] = "zones"
    # microbolus only: oref0 takes a CGM trace flat for 45 min (0 mg/dL over 5 min, under 1 mg/dL per 5 min over 15
    # and 45) for a stuck sensor and sets nothing new, except for its simulator's CGM ("fakecgm"), whose values it
    # doses on (docs/references.md, "OpenAPS oref0 with super micro boluses"). True: the CGM is such a simulated feed.
    simulated_cgm: bool = False


class LostBalanceParams(BalanceParams):
    serial: Name = "B000000002"


ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=200)]


class FirmwareProcess(Params):
    """A pump firmware of its own, run as a process on the plant's lockstep channel (docs/plant-channel.md) in place
    of the reference pump's: a host build of a maker's firmware (`command`) or a Python module (`module`, run as
    `python -m <module>` by the emulator's interpreter)."""

    module: ModuleName | None = None
    command: Annotated[tuple[Annotated[str, Field(min_length=1, max_length=4096)], ...], Field(strict=False)] = ()
    # What follows `python -m <module>` on its command line (a module's own options: a build variant, a seeded defect).
    args: Annotated[tuple[Annotated[str, Field(max_length=4096)], ...], Field(strict=False)] = ()
    # Wall seconds an exchange (a RESET, an RX, a RUN to the next poll) may take before the plant holds the firmware
    # hung: a stroke's round trip takes about 100 µs, so 3 s is tens of thousands of them. At most 4 s: the harness
    # waits 10 s for the control channel's answer (hil/drivers/emulator_control.py), and one ADV may hold two
    # exchanges (the bytes the harness sent before it, then the RUN); the plant must give up first for the
    # firmware's line, not a timeout, to reach the harness.
    exchange_timeout_s: Annotated[float, span(0, 4, above=True)] = 3.0

    @model_validator(mode="after")
    def _one_program(self) -> "FirmwareProcess":
        if (self.module is None) == (not self.command):
            raise ValueError("name the firmware's program: either module (a Python module) or command (a list)")
        if self.args and self.command:
            raise ValueError("args go with module; a command carries its own arguments")
        return self


class EmulatorOptions(Params):
    """A rig file's `emulator:` section."""

    @model_validator(mode="after")
    def _firmware_on_the_plant(self) -> "EmulatorOptions":
        if self.firmware is not None and self.module != "hil.emulator":
            raise ValueError(
                f"firmware: runs on hil's own plant (module: hil.emulator); {self.module} serves a pump of its own"
            )
        return self

    seed: Annotated[int, count(0, 2**64 - 1)] = 1
    # The program the rig starts as its emulator, `python -m <module> RIG --watch-stdin` (it prints its endpoints):
    # the reference emulator, or a pump maker's emulated pump built on it (examples/binary-pump-plugin).
    module: ModuleName = "hil.emulator"
    # The pump's firmware as a process of its own on the plant's lockstep channel; none: the reference pump's.
    firmware: FirmwareProcess | None = None
    # The harness's, not the emulator's: a RESET (fresh pump, vessel and seed) before every test. Off, each test starts
    # from what the previous one left, as on a bench, and sets its starting state through the pump's contract alone.
    reset_per_test: bool = True
    # clock: rehearsal only: simulated seconds per wall second while the emulator runs free (the harness's clock
    # runs at the same rate). Wall-clock jitter is multiplied by it: at the limit, 1 ms of scheduling delay is 10 s
    # of rig time, the order of the suites' finest polls, so faster would blur what a rehearsal is to show.
    speed: Annotated[float, span(1, 10_000)] = 1.0
    can_dbc: Annotated[str, Field(max_length=4096)] = (
        ""  # the CAN database, relative to the rig file; empty: the reference pump.dbc
    )
    # The heartbeat period is the device's choice (the protocol only counts them); 60 s keeps a simulated
    # day at 1,440 frames, so a 12-day run over CAN is not dominated by heartbeats.
    can_heartbeat_s: Annotated[float, span(0, 86_400, above=True)] = 60.0
    # A seeded rig behaviour, no physics: the pump's CAN event frames (alarms, deliveries, auto mode) held until its
    # next STATUS reply has gone out, then sent this many wall seconds after it, as a pump whose status frames outrank
    # its event frames on a busy bus sends them (docs/drivers.md §2). None: each event's frames go out as it is raised.
    can_events_behind_status_s: Annotated[float, span(0, 60)] | None = None
    pump: PumpParams = PumpParams()
    fluid_path: FluidPathParams = FluidPathParams()
    balance: BalanceParams = BalanceParams()
    valve: ValveParams = ValveParams()
    # The second balance, under the diverter's vessel: what a leak or a dislodged cannula loses.
    lost_balance: LostBalanceParams = LostBalanceParams()
    loadcell: LoadCellParams = LoadCellParams()
    vessel: VesselParams = VesselParams()
    defects: Defects = Defects()
    auto_mode: AutoModeParams = AutoModeParams()
    # Wire faults armed after every RESET, `at_s` counted from it (hil/emulation/wire_faults.py): the fault campaign.
    wire_faults: Annotated[tuple[WireFault, ...], Field(strict=False)] = ()  # a YAML list


class EmulatorConfig(EmulatorOptions):
    """The emulator's options and the rig's environment (temperature, pressure, humidity)."""

    environment: Environment = Environment()
    free_run: bool = False  # clock: rehearsal: time passes on its own, at `speed`; else only by ADV (lockstep)

    @classmethod
    def from_rig(cls, rig: dict[str, Any]) -> "EmulatorConfig":
        """Build from a rig file's mapping (validated by hil.rig.model): its `emulator:` section plus the
        physical part of its `environment:`, running free when the rig's clock is `rehearsal`."""
        environment = {k: v for k, v in (rig.get("environment") or {}).items() if k in Environment.model_fields}
        return cls.model_validate(
            {**(rig.get("emulator") or {}), "environment": environment, "free_run": rig.get("clock") == "rehearsal"}
        )
