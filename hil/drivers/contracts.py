"""The contracts between the rig's drivers and everything above them: what a pump, a scale, an occlusion valve
and a site fixture do, and the typed values they return. Procedures, tests, analysis and plots use only these:
a driver maps its own protocol's words (the reference protocol's, a vendor's) to these enums and events, with
numbers as numbers and the pump's times as seconds on its own clock.

The vocabulary is the reference protocol's (docs/protocol.md), which follows IEC 60601-1-8 for alarm priorities
and the published low-glucose-suspend rules for the suspension reasons; a vendor's driver maps onto it.
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeGuard, TypeVar, runtime_checkable

from hil.errors import Refusal as Refusal  # a driver contract type, kept at hil.errors (the bottom layer)


class PumpState(StrEnum):
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"  # by the user (or the harness)
    AUTO_SUSPENDED = "AUTO_SUSPENDED"  # by the pump's low-glucose suspend
    ALARM = "ALARM"  # delivery stopped by an alarm


class BolusState(StrEnum):
    IDLE = "IDLE"
    BOLUS = "BOLUS"
    PRIME = "PRIME"


class AlarmKind(StrEnum):
    RESERVOIR_EMPTY = "RESERVOIR_EMPTY"
    RESERVOIR_LOW = "RESERVOIR_LOW"  # the low-reservoir alert: the amount the user set is left
    DELIVERY_FAULT = "DELIVERY_FAULT"  # the pump's own check found its motor moving without a command
    OCCLUSION = "OCCLUSION"
    LOW_GLUCOSE = "LOW_GLUCOSE"
    SUSPEND_MAX_DURATION = "SUSPEND_MAX_DURATION"
    CGM_LOST = "CGM_LOST"
    CHECK_SITE = "CHECK_SITE"
    AUTO_CGM_LOST = "AUTO_CGM_LOST"  # auto mode: no fresh CGM value for 20 min, back on the profile basal
    AUTO_EXIT = "AUTO_EXIT"  # auto mode ended on its own


class InjectedFault(StrEnum):
    """A single fault a pump's verification build can inject (Capability.FAULT_INJECTION)."""

    RUNAWAY_MOTOR = "RUNAWAY_MOTOR"  # the motor driven without a command, as a driver stage stuck on


class Priority(StrEnum):
    """IEC 60601-1-8 alarm priorities."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def rank(self) -> int:
        """1 LOW, 2 MEDIUM, 3 HIGH: higher is more urgent."""
        return list(Priority).index(self) + 1


class SuspendReason(StrEnum):
    BEFORE_LOW = "BEFORE_LOW"  # predicted low
    ON_LOW = "ON_LOW"  # at or below the low limit


class ResumeReason(StrEnum):
    GLUCOSE = "GLUCOSE"  # the glucose recovered
    MAX_DURATION = "MAX_DURATION"  # the suspension reached its longest allowed
    CGM_LOST = "CGM_LOST"  # no sensor values while suspended
    USER = "USER"


class AutoZone(StrEnum):
    """Why auto mode set the basal it set (the reference protocol's AUTO_BASAL zones, Control-IQ's published ones)."""

    STOP = "STOP"  # predicted glucose at or below the stop threshold: no delivery
    REDUCE = "REDUCE"  # predicted below the target range: less than the profile
    PROFILE = "PROFILE"  # in range: the profile basal
    INCREASE = "INCREASE"  # predicted above the range: more than the profile
    CGM_LOST = "CGM_LOST"  # no fresh CGM value: back on the profile


class AutoExitReason(StrEnum):
    USER = "USER"  # auto mode switched off
    SUSPEND = "SUSPEND"  # delivery suspended or stopped
    ALARM = "ALARM"  # an alarm stopped delivery
    CGM_LOST = "CGM_LOST"  # too long without a fresh CGM value


class Capability(StrEnum):
    """What a pump driver declares it can do beyond the core of the Pump contract (identify, status, basal, bolus,
    prime, cancel, suspend, resume, STOP, events, acknowledge). A test or a metric that needs a capability the
    rig's pump driver does not declare is skipped with that reason (never failed, never passed); the method of an
    undeclared capability is never called and may raise NotImplementedError."""

    LINE_PRESSURE = "line-pressure report"  # PumpStatus.pressure_kPa and Alarm.pressure_kPa
    TEMP_BASAL = "temporary basal"  # set_temp_basal
    QUICK_BOLUS = "quick bolus"  # bolus(quick=True)
    OCCLUSION_BACKOFF = "occlusion back-off setting"  # set_occlusion_backoff
    SUSPEND_SETTINGS = "low-glucose suspend settings"  # configure_suspend
    CGM_INPUT = "CGM input"  # cgm_input
    DELIVERY_HISTORY = "delivery history"  # history_since
    AUTO_MODE = "automated insulin delivery"  # auto_mode, configure_auto, cgm_input with the value's age
    DOSE_LIMITS = "dose limits"  # configure_limits, dose_limits: the user's maximum bolus and maximum basal rate
    RESERVOIR_ALERT = "low-reservoir alert setting"  # configure_reservoir_alert, reservoir_alert
    FAULT_INJECTION = "single-fault injection"  # inject_fault: a verification build's hook
    BASAL_SCHEDULE = "basal schedule by time of day"  # set_basal_schedule, set_time_of_day, time_of_day
    BOLUS_CALCULATOR = "bolus calculator"  # configure_calculator, bolus_advice


@dataclass(frozen=True)
class PumpIdentity:
    model: str
    serial: str
    firmware: str
    protocol: str


@dataclass(frozen=True)
class PumpStatus:
    state: PumpState
    basal_U_per_h: float
    bolus: BolusState
    bolus_left_U: float
    reservoir_U: float
    delivered_U: float  # as the pump believes
    active_alarms: tuple[str, ...]  # alarm ids
    pressure_kPa: float | None  # the pump's line-pressure reading, where it reports one
    cgm_mg_dl: float | None = None  # the last CGM value the pump received


@dataclass(frozen=True)
class AutoSettings:
    """Auto mode's settings: the correction target, the insulin sensitivity, and its two safety caps."""

    target_mg_dl: float
    isf_mg_dl_per_U: float
    max_basal_U_per_h: float
    max_iob_U: float


@dataclass(frozen=True)
class DoseLimits:
    """The user's dose limits (a pump's "maximum bolus" and "maximum basal rate" settings): a bolus above the first,
    or a basal or temporary basal rate above the second, delivers no more than the limit: refused (DeviceRefused), or
    accepted and cut to the limit, as the pump's design is. Auto mode's own cap on its automatic basal is
    AutoSettings.max_basal_U_per_h."""

    max_bolus_U: float
    max_basal_U_per_h: float


@dataclass(frozen=True)
class CalculatorSettings:
    """The bolus calculator's settings: the insulin-to-carb ratio, the correction factor and the target glucose."""

    carb_ratio_g_per_U: float
    correction_factor_mg_dl_per_U: float
    target_mg_dl: float


@dataclass(frozen=True)
class BolusAdvice:
    """What a pump's bolus calculator suggests (it delivers nothing): the total, the insulin on board it counted, and
    the glucose it used (None: none, the meal bolus alone)."""

    total_U: float
    iob_U: float
    glucose_mg_dl: float | None


DAY_S = 86_400


@dataclass(frozen=True)
class BasalSegment:
    """From `start_min` minutes after midnight (until the next segment's start), `rate_U_per_h`."""

    start_min: int
    rate_U_per_h: float


@dataclass(frozen=True)
class BasalSchedule:
    """A basal programme by time of day (a pump's "basal pattern" or "Basal Program"): its segments in order of
    start, the first at midnight."""

    segments: tuple[BasalSegment, ...]

    def __post_init__(self) -> None:
        starts = [s.start_min for s in self.segments]
        if not starts or starts[0] != 0 or starts != sorted(set(starts)) or starts[-1] >= DAY_S // 60:
            raise ValueError(f"basal segments must start at 00:00 and at rising minutes of one day, not {starts}")

    def rate_at(self, time_of_day_s: float) -> float:
        """The rate the programme gives at a time of day (any seconds, taken modulo a day)."""
        minute = (time_of_day_s % DAY_S) / 60.0
        return next(s.rate_U_per_h for s in reversed(self.segments) if s.start_min <= minute)

    def insulin_U(self, from_s: float, duration_s: float) -> float:
        """What the programme delivers over `duration_s` from the time of day `from_s` (across midnight too)."""
        total, t, end = 0.0, from_s, from_s + duration_s
        while t < end:
            day_start = math.floor(t / DAY_S) * DAY_S
            later = [day_start + s.start_min * 60.0 for s in self.segments if day_start + s.start_min * 60.0 > t]
            boundary = min(later + [day_start + DAY_S, end])
            total += self.rate_at(t) * (boundary - t) / 3600.0
            t = boundary
        return total

    @property
    def daily_U(self) -> float:
        return self.insulin_U(0.0, DAY_S)


@dataclass(frozen=True)
class AutoModeState:
    on: bool
    basal_U_per_h: float  # the rate in effect
    zone: AutoZone | None  # why, while auto mode is on
    iob_U: float  # the insulin on board as the pump counts it


@dataclass(frozen=True)
class Alarm:
    """A new alarm, or one that escalated (the same id and raise time, a higher priority)."""

    alarm_id: str
    kind: AlarmKind
    priority: Priority
    raised_s: float  # pump clock
    pressure_kPa: float | None = None  # the line pressure at an occlusion alarm, where the pump reports it


@dataclass(frozen=True)
class Suspended:
    """The pump suspended delivery on its own (low-glucose suspend)."""

    reason: SuspendReason
    at_s: float  # pump clock


@dataclass(frozen=True)
class Resumed:
    reason: ResumeReason
    at_s: float  # pump clock


@dataclass(frozen=True)
class BolusDone:
    amount_U: float


@dataclass(frozen=True)
class PrimeDone:
    amount_U: float


@dataclass(frozen=True)
class AutoBasal:
    """Auto mode changed the basal: the rate and why, with the prediction and insulin on board it used (None for a
    fallback, which uses neither)."""

    rate_U_per_h: float
    zone: AutoZone
    predicted_mg_dl: float | None
    iob_U: float | None
    at_s: float  # pump clock


@dataclass(frozen=True)
class AutoBolus:
    """Auto mode started a correction bolus (its BolusDone follows)."""

    amount_U: float
    predicted_mg_dl: float
    iob_U: float
    at_s: float


@dataclass(frozen=True)
class AutoExit:
    reason: AutoExitReason
    at_s: float


PumpEvent = Alarm | Suspended | Resumed | BolusDone | PrimeDone | AutoBasal | AutoBolus | AutoExit
E = TypeVar("E", bound=PumpEvent, covariant=True)
K = TypeVar("K", bound=PumpEvent)


@dataclass(frozen=True)
class Seen(Generic[E]):
    """A pump event as the harness took it: with the rig time of the poll that brought it."""

    event: E
    seen_s: float


def alarm_lines(alarms: list[Seen[Alarm]]) -> list[str]:
    """Each alarm as a test's evidence states it: its kind and priority, when the pump raised it and when the rig saw
    it."""
    return [
        f"{s.event.kind} ({s.event.priority}) raised at pump time {s.event.raised_s:.1f} s, seen at rig time "
        f"{s.seen_s:.0f} s"
        for s in alarms
    ]


def seen_as(seen: Seen[PumpEvent], kind: type[K]) -> TypeGuard[Seen[K]]:
    """Whether a seen event is of one kind (`isinstance(seen.event, kind)`, which a type checker cannot carry
    over to the Seen)."""
    return isinstance(seen.event, kind)


@dataclass(frozen=True)
class Reading:
    t: float  # rig clock time of the reading, s
    mass_mg: float
    stable: bool


@runtime_checkable
class Pump(Protocol):
    """An insulin pump under test. Commands that change state raise DeviceRefused when the pump refuses them
    (a product finding); a link or protocol fault is a RigError (the rig's, never the pump's)."""

    def identify(self) -> PumpIdentity: ...
    def status(self) -> PumpStatus: ...
    def events(self) -> list[PumpEvent]:
        """Events received since the last call, oldest first; LostEvent when one was lost on the wire."""

    def pump_time(self) -> float:
        """The pump's clock, s."""

    def set_basal(self, rate_U_per_h: float) -> None: ...
    def set_temp_basal(self, rate_U_per_h: float, minutes: int) -> None: ...
    def bolus(self, amount_U: float, quick: bool = False) -> float:
        """Start a bolus; its nominal duration, s."""

    def prime(self, amount_U: float) -> float: ...
    def cancel_bolus(self) -> float:
        """Cancel a running bolus; the units not delivered."""

    def suspend(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None:
        """Stop all delivery now: always accepted, idempotent (the fail-safe command)."""

    def acknowledge(self, alarm_id: str) -> None: ...
    def history_since(self, t_pump: float) -> tuple[int, float]:
        """(strokes, units) the pump's delivery history records since a time on its clock."""

    def cgm_input(self, glucose_mg_dl: float, trend_mg_dl_min: float, age_s: float = 0.0) -> None:
        """A CGM value, its trend, and how long ago the CGM took it (auto mode takes a value older than one sensor
        interval as no value)."""

    def auto_mode(self, on: bool | None = None) -> AutoModeState:
        """Enter (True) or leave (False) auto mode; None: only its state."""

    def configure_auto(self, settings: AutoSettings) -> None: ...
    def configure_limits(self, limits: DoseLimits) -> DoseLimits:
        """Set the maximum bolus and the maximum basal rate; the limits in effect, as the pump confirms them."""

    def dose_limits(self) -> DoseLimits:
        """The maximum bolus and the maximum basal rate in effect."""

    def configure_reservoir_alert(self, amount_U: float) -> float:
        """Set the low-reservoir alert (a RESERVOIR_LOW alarm when `amount_U` is left); the amount in effect, as the
        pump confirms it."""

    def reservoir_alert(self) -> float:
        """The low-reservoir alert's amount in effect, U."""

    def inject_fault(self, fault: InjectedFault | None) -> InjectedFault | None:
        """Inject a single fault through the verification build's hook (None: clear it); the fault the hook says is
        acting. What the pump does about the fault is the pump's own."""

    def set_basal_schedule(self, schedule: BasalSchedule) -> float:
        """Make the programmed basal follow `schedule` by the pump's time of day (set_basal gives one rate all day);
        the daily total of the programme in effect, as the pump confirms it."""

    def set_time_of_day(self, seconds: int) -> float:
        """Set the pump's clock to `seconds` after midnight, as its user sets it; the time of day it then shows, s
        (DeviceRefused where the pump takes a time change only with delivery paused, as Omnipod 5's)."""

    def time_of_day(self) -> float:
        """The pump's time of day, s after midnight (its own clock for the basal programme; pump_time() is the clock
        that measures durations and is never set)."""

    def configure_calculator(self, settings: CalculatorSettings) -> CalculatorSettings:
        """Set the bolus calculator's settings; the settings in effect, as the pump confirms them."""

    def bolus_advice(self, carbs_g: float, glucose_mg_dl: float | None = None, use_cgm: bool = False) -> BolusAdvice:
        """The bolus calculator's advice for a meal and a glucose entered (None: none), or, with `use_cgm`, the CGM's
        last value as the pump's calculator takes it (where it judges it fresh; a pump may refuse the advice instead,
        DeviceRefused NOT_ALLOWED, as Omnipod 5 disables USE CGM without a valid value)."""

    def set_occlusion_backoff(self, enabled: bool) -> None: ...
    def configure_suspend(self, low_limit: int, before_low: bool, on_low: bool) -> None: ...
    def check_link(self) -> None:
        """Raise what the link found wrong since the last call (a lost or repeated line): a RigError."""

    def close(self) -> None: ...


@runtime_checkable
class NumberedEvents(Protocol):
    """A pump driver whose events carry the pump's own numbers (`E<n>`, docs/protocol.md). In lockstep the emulator's
    clock step is answered on its control link, which over a network may overtake the pump link's lines: the rig
    awaits, after each step, the event number the step's answer gives."""

    def await_event(self, number: int) -> None:
        """Read the pump's link until its event `number` (or a later one) has arrived, queued for events();
        LostEvent when it has not within the link's deadline."""


@runtime_checkable
class Scale(Protocol):
    """A balance or load cell; InstrumentRefused (BUSY, OVERLOAD, ...) when it cannot give what is asked."""

    def identify(self) -> dict[str, str]: ...
    def read(self) -> Reading:
        """The reading now, stable or not."""

    def read_stable(self) -> Reading:
        """A stable reading, or InstrumentRefused BUSY."""

    def tare(self) -> float:
        """Tare; the tare weight, mg."""

    def zero(self) -> None: ...
    def reset(self) -> str:
        """Back to its idle state (no stream); its serial number."""

    def close(self) -> None: ...


@runtime_checkable
class AsksAhead(Protocol):
    """A scale that can be asked for readings before the last one asked for is answered (MT-SICS's SI, say): in
    lockstep a recording asks for a window of its samples at once, and the emulator answers them all in one wait
    (hil.procedures.delivery.record). Optional: a scale without it is read one sample at a time."""

    def ask_reading(self) -> None:
        """Ask for the reading now (as `read`), stamped now, without waiting for it."""

    def take_reading(self) -> Reading:
        """The oldest reading asked for and not yet taken, shown to be its own reply (a reply lost or doubled among
        those asked ahead is the rig's error, never another sample's reading)."""


@runtime_checkable
class OcclusionValve(Protocol):
    def close(self) -> None:
        """Block the line downstream of the pump."""

    def open(self) -> None: ...
    def disconnect(self) -> None:
        """Release the valve's link (the rig's end); the valve stays as it is."""


@runtime_checkable
class SiteFixture(Protocol):
    """Insertion-site faults; SiteFaultUnavailable for a fault level the fixture cannot make."""

    def kink(self, factor: float = math.inf) -> None:
        """Raise the site's resistance by `factor` (inf: a full block)."""

    def leak(self, fraction: float) -> None: ...
    def dislodge(self) -> None: ...
    def restore(self) -> None: ...
    def disconnect(self) -> None:
        """Release the fixture's link (the rig's end)."""


@runtime_checkable
class ReservoirFixture(Protocol):
    """Reservoir changes: a reservoir of a stated fill fitted in the pump, and the pump's own reservoir change done
    (delivery stopped, the pump told of the new reservoir); the infusion set stays, to be primed."""

    def fit(self, fill_U: float) -> None:
        """A new reservoir holding `fill_U` fitted."""

    def restore(self) -> None:
        """A full reservoir fitted, as the rig's other tests expect."""

    def disconnect(self) -> None:
        """Release the fixture's link (the rig's end)."""
