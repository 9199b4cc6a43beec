"""The driver conformance kit (`hil driver check`): each driver of an open rig exercised against its contract
(hil.drivers.contracts), one row per check. A pump's checks command it (basal, temporary basal, bolus, cancel,
suspend, resume, STOP twice): run them on an emulated rig or on a pump that is not connected to anyone.

Every check runs even when an earlier one missed; a check that raises is a miss that names the exception. A
fixture level the rig's fixture cannot make (SiteFaultUnavailable) is not a miss: the row says so.
"""

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from hil.drivers.contracts import (
    DAY_S,
    Alarm,
    AutoBasal,
    AutoExit,
    AutoExitReason,
    AutoSettings,
    BasalSchedule,
    BasalSegment,
    BolusDone,
    BolusState,
    CalculatorSettings,
    Capability,
    DoseLimits,
    InjectedFault,
    PumpEvent,
    PumpIdentity,
    PumpState,
    PumpStatus,
    Reading,
    Refusal,
    ReservoirFixture,
    SiteFixture,
)
from hil.drivers.registry import DeviceKind
from hil.drivers.site_faults import SiteFaultUnavailable
from hil.errors import DeviceRefused, InstrumentRefused, RigError
from hil.procedures.reservoir import fit_tolerance_U
from hil.rig.rig import Rig

BOLUS_U = 0.5  # a bolus the reference range allows on every pump the suite targets (0.05 U steps)
BASAL_U_PER_H = 1.0
# The least low-reservoir alert of the pumps whose ranges were found (t:slim X2 10-40 U, the original OmniPod
# 10-50 U: docs/references.md, "The reservoir")
RESERVOIR_ALERT_U = 10.0
CHECK_FILL_U = 50.0  # a reservoir the fixture fits, below a full one
FAULT_WITHIN_S = 30.0  # how long the pump is watched after a fault is injected
# A programme whose rate changes at noon, and a time of day just before it: the step waits over the change
PROGRAMME = BasalSchedule((BasalSegment(0, BASAL_U_PER_H), BasalSegment(12 * 60, 0.5 * BASAL_U_PER_H)))
BEFORE_NOON_S = 12 * 3600 - 60  # 11:59: a clock its user sets to the minute
ACROSS_NOON_S = 90.0
CALCULATOR = CalculatorSettings(carb_ratio_g_per_U=10.0, correction_factor_mg_dl_per_U=50.0, target_mg_dl=110.0)
CALCULATOR_MEAL_G, CALCULATOR_GLUCOSE_MG_DL = 30.0, 160.0
TEMP_BASAL = (0.5, 30)  # U/h, minutes
ALARM_BOLUS_U = (
    5.0  # into a closed line: an occlusion alarm after about 2.3 U pushed (the reference pump, OC-ALARM-003)
)
ALARM_WITHIN_S = 600.0
SUSPEND_SETTINGS = (
    60,
    False,
    False,
)  # low limit mg/dL, before-low, on-low: the reference pump's defaults (docs/protocol.md)
# auto mode: the reference pump's default settings (docs/protocol.md), and a CGM value well above its range
AUTO_SETTINGS = AutoSettings(target_mg_dl=110, isf_mg_dl_per_U=50, max_basal_U_per_h=3.0, max_iob_U=5.0)
AUTO_HIGH_MG_DL = 250.0
STABLE_WITHIN_S = 120.0  # the suites' own deadline for a stable reading (hil.procedures.delivery.stable_reading)


class Status(StrEnum):
    OK = "ok"
    MISS = "MISS"
    NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class Check:
    device: DeviceKind
    item: str
    found: str
    status: Status


class _Miss(Exception):
    """What a check found that the contract does not allow."""


class _NotAvailable(Exception):
    """The rig lacks what the check needs (an occlusion valve to make the pump alarm)."""


def _run(device: DeviceKind, item: str, step: Callable[[], str]) -> Check:
    try:
        return Check(device, item, step(), Status.OK)
    except _Miss as exc:
        return Check(device, item, str(exc), Status.MISS)
    except SiteFaultUnavailable as exc:
        return Check(device, item, f"not on this fixture: {exc}", Status.NOT_AVAILABLE)
    except _NotAvailable as exc:
        return Check(device, item, str(exc), Status.NOT_AVAILABLE)
    except (RigError, DeviceRefused) as exc:
        return Check(device, item, f"{type(exc).__name__}: {exc}", Status.MISS)


def _expect(condition: object, what: str) -> None:
    if not condition:
        raise _Miss(what)


def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _typed_status(status: PumpStatus) -> None:
    _expect(isinstance(status, PumpStatus), f"status() gave {type(status).__name__}, not PumpStatus")
    _expect(
        isinstance(status.state, PumpState) and isinstance(status.bolus, BolusState),
        f"state {status.state!r} and bolus {status.bolus!r} must be PumpState and BolusState",
    )
    _expect(
        _finite(status.basal_U_per_h, status.bolus_left_U, status.reservoir_U, status.delivered_U)
        and min(status.basal_U_per_h, status.bolus_left_U, status.reservoir_U, status.delivered_U) >= 0,
        f"rates and amounts must be finite and not negative: {status}",
    )
    _expect(all(isinstance(a, str) for a in status.active_alarms), "active_alarms must be alarm ids (str)")


class _PumpKit:
    """The pump's checks (pump_checks runs them in its order); what a later check needs of an earlier one kept
    between them."""

    def __init__(self, rig: Rig):
        self.rig, self.pump, self.clock = rig, rig.pump, rig.clock
        self.pump_t = 0.0  # the pump's clock when the checks began
        self.alarm: Alarm | None = None  # the alarm the valve raised

    def identify(self) -> str:
        identity = self.pump.identify()
        _expect(isinstance(identity, PumpIdentity), f"identify() gave {type(identity).__name__}")
        _expect(all(isinstance(v, str) and v for v in vars(identity).values()), f"empty identity field: {identity}")
        return f"{identity.model}, serial {identity.serial}, firmware {identity.firmware}, protocol {identity.protocol}"

    def status(self) -> str:
        s = self.pump.status()
        _typed_status(s)
        self.pump_t = self.pump.pump_time()
        _expect(_finite(self.pump_t), f"pump_time() gave {self.pump_t!r}")
        return f"{s.state}, bolus {s.bolus}, reservoir {s.reservoir_U:g} U, pump clock {self.pump_t:.0f} s"

    def stop_twice(self) -> str:
        for which in ("STOP", "a second STOP"):
            try:
                self.pump.stop()
            except DeviceRefused as exc:
                raise _Miss(f"{which} refused ({exc}): STOP must always be accepted, and idempotent") from None
        s = self.pump.status()
        _expect(
            s.state in (PumpState.SUSPENDED, PumpState.ALARM) and s.bolus is BolusState.IDLE,
            f"after STOP: {s.state}, bolus {s.bolus} (delivery must have stopped)",
        )
        return f"accepted twice; then {s.state}, bolus {s.bolus}"

    def basal_and_resume(self) -> str:
        self.pump.set_basal(BASAL_U_PER_H)
        self.pump.resume()
        s = self.pump.status()
        _expect(
            s.state is PumpState.RUNNING and abs(s.basal_U_per_h - BASAL_U_PER_H) < 1e-6,
            f"after BASAL {BASAL_U_PER_H:g} and RESUME: {s.state} at {s.basal_U_per_h:g} U/h",
        )
        return f"{s.state} at {s.basal_U_per_h:g} U/h"

    def temp_basal(self) -> str:
        self.pump.set_temp_basal(*TEMP_BASAL)
        self.pump.set_temp_basal(0.0, 0)
        return f"{TEMP_BASAL[0]:g} U/h for {TEMP_BASAL[1]} min accepted, then cancelled"

    def bolus_and_cancel(self) -> str:
        duration = self.pump.bolus(BOLUS_U)
        _expect(_finite(duration) and duration > 0, f"bolus() gave a nominal duration of {duration!r} s")
        during = self.pump.status().bolus
        left = self.pump.cancel_bolus()
        _expect(during is BolusState.BOLUS, f"bolus state {during} while a bolus runs")
        _expect(_finite(left) and 0 <= left <= BOLUS_U, f"cancel_bolus() gave {left!r} U not delivered")
        _expect(self.pump.status().bolus is BolusState.IDLE, "a cancelled bolus still runs")
        return f"{BOLUS_U:g} U: nominal {duration:g} s, {during}; cancelled with {left:g} U not delivered"

    def bolus_done_event(self) -> str:
        duration = self.pump.bolus(BOLUS_U)
        self.clock.sleep(duration * 1.5 + 60.0)
        # a request on the pump's own link first: an event sent before it has arrived by its reply, whatever the
        # transport (the rig clock's step is answered on another link, which over a network may overtake it)
        self.pump.status()
        events = self.pump.events()
        _expect(all(isinstance(e, PumpEvent) for e in events), f"untyped events: {events!r}")
        done = [e for e in events if isinstance(e, BolusDone)]
        _expect(len(done) == 1 and abs(done[0].amount_U - BOLUS_U) < 1e-6, f"events after the bolus: {events!r}")
        return f"BolusDone({done[0].amount_U:g} U) among {len(events)} typed event(s)"

    def alarm_cycle(self) -> str:
        if self.rig.occlusion_valve is None:
            raise _NotAvailable("no occlusion valve on this rig to make the pump alarm (actuators.occlusion_valve)")
        self.pump.resume()
        self.rig.occlusion_valve.close()
        seen: list = []

        def alarmed() -> bool:
            seen.extend(self.pump.events())
            return any(isinstance(e, Alarm) for e in seen)

        try:
            self.pump.bolus(ALARM_BOLUS_U)
            self.clock.wait_for(alarmed, timeout=ALARM_WITHIN_S, poll=5.0)
        finally:
            self.rig.occlusion_valve.open()
        alarm = next((e for e in seen if isinstance(e, Alarm)), None)
        if alarm is None:
            raise _Miss(
                f"no Alarm event within {ALARM_WITHIN_S:g} s of a {ALARM_BOLUS_U:g} U bolus into a "
                f"closed line (events: {seen!r})"
            )
        _expect(
            _finite(alarm.raised_s) and alarm.alarm_id in self.pump.status().active_alarms,
            f"{alarm} is not among the active alarms of STATUS",
        )
        self.pump.acknowledge(alarm.alarm_id)
        _expect(
            alarm.alarm_id not in self.pump.status().active_alarms, f"alarm {alarm.alarm_id} still active after ACK"
        )
        self.alarm = alarm
        return (
            f"{alarm.kind} {alarm.priority} (id {alarm.alarm_id}, raised at {alarm.raised_s:g} s pump clock), "
            f"active in STATUS, acknowledged"
        )

    def suspend_and_resume(self) -> str:
        self.pump.suspend()
        suspended = self.pump.status().state
        self.pump.resume()
        resumed = self.pump.status().state
        _expect(
            suspended is PumpState.SUSPENDED and resumed is PumpState.RUNNING,
            f"SUSPEND gave {suspended}, RESUME {resumed}",
        )
        return f"{suspended}, then {resumed}"

    def history(self) -> str:
        strokes, units = self.pump.history_since(self.pump_t)
        _expect(
            isinstance(strokes, int) and strokes > 0 and _finite(units) and units > 0,
            f"history_since gave ({strokes!r}, {units!r}) after a delivered bolus and basal",
        )
        return f"{strokes} strokes, {units:g} U since the checks began"

    def quick_bolus(self) -> str:
        duration = self.pump.bolus(BOLUS_U, quick=True)
        _expect(_finite(duration) and duration > 0, f"a quick bolus's nominal duration is {duration!r} s")
        left = self.pump.cancel_bolus()
        _expect(_finite(left) and 0 <= left <= BOLUS_U, f"cancel_bolus() gave {left!r} U not delivered")
        return f"{BOLUS_U:g} U quick: nominal {duration:g} s, cancelled with {left:g} U not delivered"

    def line_pressure(self) -> str:
        pressure = self.pump.status().pressure_kPa
        _expect(pressure is not None and _finite(pressure), f"STATUS gave the line pressure {pressure!r}")
        alarm = self.alarm
        if alarm is not None:
            _expect(
                alarm.pressure_kPa is not None and _finite(alarm.pressure_kPa),
                f"the occlusion alarm came without its line pressure: {alarm}",
            )
        return f"{pressure:g} kPa in STATUS" + (f", {alarm.pressure_kPa:g} kPa with the alarm" if alarm else "")

    def settings(self) -> str:
        self.pump.set_occlusion_backoff(False)
        self.pump.set_occlusion_backoff(True)
        return "back-off off, then on again: accepted"

    def suspend_settings(self) -> str:
        self.pump.configure_suspend(SUSPEND_SETTINGS[0], before_low=True, on_low=True)
        self.pump.configure_suspend(*SUSPEND_SETTINGS)
        return f"low limit {SUSPEND_SETTINGS[0]} mg/dL with both rules, then the rules off: accepted"

    def cgm(self) -> str:
        self.pump.cgm_input(120.0, 0.0)
        taken = self.pump.status().cgm_mg_dl
        _expect(taken is not None and abs(taken - 120.0) <= 1.0, f"sent 120 mg/dL, the pump's last CGM value {taken}")
        return f"120 mg/dL taken ({taken:g})"

    def auto(self) -> str:
        self.pump.configure_auto(AUTO_SETTINGS)
        state = self.pump.auto_mode(True)
        _expect(state.on and _finite(state.basal_U_per_h, state.iob_U), f"auto_mode(True) gave {state}")
        self.pump.events()
        self.pump.cgm_input(AUTO_HIGH_MG_DL, 0.0)
        self.rig.clock.sleep(5.0)
        decisions = [e for e in self.pump.events() if isinstance(e, AutoBasal)]
        _expect(decisions, f"no AutoBasal event after a CGM value of {AUTO_HIGH_MG_DL:g} mg/dL in auto mode")
        decided = decisions[-1]
        # Design-neutral: a decision within the settings' cap, with the insulin on board it used. Whether a design
        # raises the basal at 250 mg/dL depends on what is already on board (the kit's earlier boluses): the
        # zones design raises it, oref0 with microboluses rightly reduces it; the safety suites judge that.
        _expect(
            0.0 <= decided.rate_U_per_h <= AUTO_SETTINGS.max_basal_U_per_h
            and decided.iob_U is not None
            and _finite(decided.iob_U),
            f"at {AUTO_HIGH_MG_DL:g} mg/dL auto mode set {decided}",
        )
        if self.pump.status().bolus is BolusState.BOLUS:
            self.pump.cancel_bolus()  # its correction: not this check's business
        off = self.pump.auto_mode(False)
        exits = [e for e in self.pump.events() if isinstance(e, AutoExit)]
        _expect(not off.on and exits and exits[-1].reason is AutoExitReason.USER, f"auto_mode(False): {off}, {exits}")
        return (
            f"{decided.zone} to {decided.rate_U_per_h:g} U/h at {AUTO_HIGH_MG_DL:g} mg/dL, "
            f"{decided.iob_U:g} U on board; then off ({exits[-1].reason})"
        )

    def limits(self) -> str:
        """The limits read, set to the kit's bolus and basal, a bolus of twice the maximum asked for (refused, or
        accepted and cut to the maximum, as the pump's design is: the suites judge what is delivered), the limits
        read put back."""
        before = self.pump.dose_limits()
        _expect(_finite(before.max_bolus_U, before.max_basal_U_per_h), f"dose_limits() gave {before}")
        low = DoseLimits(BOLUS_U, BASAL_U_PER_H)
        try:
            confirmed = self.pump.configure_limits(low)
            _expect(confirmed == low, f"configure_limits({low}) confirmed {confirmed}")
            try:
                self.pump.bolus(2 * BOLUS_U)
            except DeviceRefused as exc:
                answer = f"refused ({exc.code})"
            else:
                self.pump.cancel_bolus()
                answer = "accepted (cancelled)"
        except BaseException:
            with contextlib.suppress(Exception):  # what ended the step is what the check must say
                self.pump.configure_limits(before)
            raise
        back = self.pump.configure_limits(before)
        _expect(back == before, f"the limits read, {before}, put back as {back}")
        return (
            f"{before.max_bolus_U:g} U and {before.max_basal_U_per_h:g} U/h read; {BOLUS_U:g} U and "
            f"{BASAL_U_PER_H:g} U/h set and confirmed; a {2 * BOLUS_U:g} U bolus {answer}; the limits put back"
        )

    def reservoir_alert(self) -> str:
        """The low-reservoir alert read, set to the kit's amount and shown confirmed, then put back."""
        before = self.pump.reservoir_alert()
        _expect(_finite(before) and before > 0, f"reservoir_alert() gave {before!r}")
        try:
            confirmed = self.pump.configure_reservoir_alert(RESERVOIR_ALERT_U)
            _expect(
                abs(confirmed - RESERVOIR_ALERT_U) < 1e-6,
                f"configure_reservoir_alert({RESERVOIR_ALERT_U:g}) confirmed {confirmed!r}",
            )
        except BaseException:
            with contextlib.suppress(Exception):  # what ended the step is what the check must say
                self.pump.configure_reservoir_alert(before)
            raise
        back = self.pump.configure_reservoir_alert(before)
        _expect(abs(back - before) < 1e-6, f"the alert read, {before:g} U, put back as {back!r}")
        return f"{before:g} U read; {RESERVOIR_ALERT_U:g} U set and confirmed; put back"

    def fault_injection(self) -> str:
        """A runaway motor injected while running at no basal, the pump watched for FAULT_WITHIN_S, the fault cleared,
        the pump stopped and its alarms acknowledged. What the pump does about the fault is the suites' to judge."""
        self.pump.set_basal(0.0)
        self.pump.resume()
        self.pump.events()
        try:
            self.pump.inject_fault(InjectedFault.RUNAWAY_MOTOR)
            self.clock.sleep(FAULT_WITHIN_S)
        finally:
            self.pump.inject_fault(None)
            self.pump.stop()
        alarms = [e for e in self.pump.events() if isinstance(e, Alarm)]
        for alarm in alarms:
            self.pump.acknowledge(alarm.alarm_id)
        said = ", ".join(f"{a.kind} {a.priority}" for a in alarms) or "no alarm"
        return f"a runaway motor injected, {said} within {FAULT_WITHIN_S:g} s; cleared, stopped, acknowledged"

    def basal_schedule(self) -> str:
        """A programme set and shown confirmed (its daily total); the clock read, set to just before the programme's
        change and read again; the rate in effect before and after the change (STATUS basal); a basal of 0 all day put
        back and the clock set back to where it would be."""
        found = self.pump.time_of_day()
        _expect(_finite(found) and 0 <= found < DAY_S, f"time_of_day() gave {found!r}")
        read_s = self.clock.now()
        try:
            daily = self.pump.set_basal_schedule(PROGRAMME)
            _expect(abs(daily - PROGRAMME.daily_U) < 0.01, f"{PROGRAMME.daily_U:g} U/day set, {daily!r} confirmed")
            shown = self.pump.set_time_of_day(BEFORE_NOON_S)
            _expect(abs(shown - BEFORE_NOON_S) <= 1.0, f"set_time_of_day({BEFORE_NOON_S}) answered {shown!r}")
            before = self.pump.status().basal_U_per_h
            self.clock.sleep(ACROSS_NOON_S)
            after = self.pump.status().basal_U_per_h
            read = self.pump.time_of_day()
        finally:
            self.pump.set_basal(0.0)
            self.pump.set_time_of_day(round((found + self.clock.now() - read_s) / 60.0) * 60 % DAY_S)
        rates = (PROGRAMME.rate_at(BEFORE_NOON_S), PROGRAMME.rate_at(BEFORE_NOON_S + ACROSS_NOON_S))
        _expect((before, after) == rates, f"the rate in effect {before:g} then {after:g} U/h, not {rates}")
        _expect(
            abs(read - BEFORE_NOON_S - ACROSS_NOON_S) <= 2.0,
            f"{ACROSS_NOON_S:g} s after {BEFORE_NOON_S} s the clock read {read:.0f} s",
        )
        return (
            f"a {PROGRAMME.daily_U:g} U/day programme confirmed; the clock set to 11:59, {before:g} then {after:g} "
            "U/h across noon; a basal of 0 put back, the clock set back to the minute"
        )

    def bolus_calculator(self) -> str:
        """The calculator's settings set and shown confirmed, and its advice for a meal and a glucose entered asked
        (which delivers nothing); a typed advice, finite, its total not negative (the insulin on board may be, as
        some pumps count it). What it advises is the suites' to judge."""
        confirmed = self.pump.configure_calculator(CALCULATOR)
        _expect(confirmed == CALCULATOR, f"configure_calculator({CALCULATOR}) confirmed {confirmed}")
        advice = self.pump.bolus_advice(CALCULATOR_MEAL_G, CALCULATOR_GLUCOSE_MG_DL)
        _expect(_finite(advice.total_U, advice.iob_U) and advice.total_U >= 0, f"bolus_advice gave {advice}")
        return (
            f"settings confirmed; {CALCULATOR_MEAL_G:g} g at {CALCULATOR_GLUCOSE_MG_DL:g} mg/dL: {advice.total_U:g} U "
            f"advised, {advice.iob_U:g} U on board counted, glucose used {advice.glucose_mg_dl}"
        )

    def unknown_alarm(self) -> str:
        try:
            self.pump.acknowledge("9999")
        except DeviceRefused as exc:
            return f"acknowledging an alarm never raised is refused: {exc.code}"
        raise _Miss("acknowledging an alarm never raised was accepted")

    def stop_at_end(self) -> str:
        self.pump.stop()
        s = self.pump.status()
        _expect(s.bolus is BolusState.IDLE and s.state is not PumpState.RUNNING, f"after STOP: {s.state}")
        self.pump.check_link()
        return f"{s.state}; the link found nothing lost or repeated"


def pump_checks(rig: Rig) -> list[Check]:
    kit = _PumpKit(rig)
    declared = rig.capabilities()
    steps = [
        ("identify", kit.identify, None),
        ("status, pump clock", kit.status, None),
        ("STOP, and STOP again", kit.stop_twice, None),
        ("basal, resume", kit.basal_and_resume, None),
        ("temporary basal, cancel", kit.temp_basal, Capability.TEMP_BASAL),
        ("bolus, cancel", kit.bolus_and_cancel, None),
        ("quick bolus, cancel", kit.quick_bolus, Capability.QUICK_BOLUS),
        ("bolus to its end, events", kit.bolus_done_event, None),
        ("an alarm raised, typed, acknowledged", kit.alarm_cycle, None),
        ("line pressure", kit.line_pressure, Capability.LINE_PRESSURE),
        ("occlusion back-off setting", kit.settings, Capability.OCCLUSION_BACKOFF),
        ("suspend, resume", kit.suspend_and_resume, None),
        ("low-glucose suspend settings", kit.suspend_settings, Capability.SUSPEND_SETTINGS),
        ("delivery history", kit.history, Capability.DELIVERY_HISTORY),
        ("CGM input", kit.cgm, Capability.CGM_INPUT),
        ("auto mode: a decision, off", kit.auto, Capability.AUTO_MODE),
        ("dose limits", kit.limits, Capability.DOSE_LIMITS),
        ("low-reservoir alert setting", kit.reservoir_alert, Capability.RESERVOIR_ALERT),
        ("single-fault injection", kit.fault_injection, Capability.FAULT_INJECTION),
        ("basal programme by time of day", kit.basal_schedule, Capability.BASAL_SCHEDULE),
        ("bolus calculator", kit.bolus_calculator, Capability.BOLUS_CALCULATOR),
        ("acknowledge an unknown alarm", kit.unknown_alarm, None),
        ("STOP at the end", kit.stop_at_end, None),
    ]
    found = [Check(DeviceKind.PUMP, "capabilities declared", ", ".join(sorted(declared)) or "none", Status.OK)]
    for item, step, capability in steps:
        if capability is None or capability in declared:
            found.append(_run(DeviceKind.PUMP, item, step))
        else:
            found.append(
                Check(
                    DeviceKind.PUMP,
                    item,
                    f"not declared by the driver ({capability}): its tests are skipped",
                    Status.NOT_AVAILABLE,
                )
            )
    return found


def _tared_within_mg(section: dict) -> float:
    """How near zero a tared display must read: 1 mg, or for a coarser balance its own noise as the rig file
    declares it (4 standard deviations of repeatability and 3 readability steps)."""
    return max(1.0, 4.0 * section.get("repeatability_mg", 0.0) + 3.0 * section.get("readability_mg", 0.0))


def scale_checks(rig: Rig, scale, name: str = "scale") -> list[Check]:
    near_zero_mg = _tared_within_mg(rig.config.section(name))

    def identify() -> str:
        identity = scale.identify()
        _expect(isinstance(identity, dict) and identity.get("serial"), f"identify() gave {identity!r}")
        return ", ".join(f"{k} {v}" for k, v in identity.items())

    def read() -> str:
        reading = scale.read()
        _expect(isinstance(reading, Reading) and _finite(reading.t, reading.mass_mg), f"read() gave {reading!r}")
        return f"{reading.mass_mg / 1000:.5f} g, {'stable' if reading.stable else 'dynamic'}, at {reading.t:.1f} s"

    def stable() -> Reading:
        """read_stable(), asked again while it is refused BUSY (as the suites do), for up to STABLE_WITHIN_S."""
        deadline = rig.clock.now() + STABLE_WITHIN_S
        while True:
            try:
                reading = scale.read_stable()
            except InstrumentRefused as exc:
                _expect(
                    exc.code is Refusal.BUSY and rig.clock.now() < deadline,
                    f"read_stable() refused {exc.code} (not stable within {STABLE_WITHIN_S:g} s, or not BUSY)",
                )
                rig.clock.sleep(1.0)
                continue
            _expect(
                isinstance(reading, Reading) and reading.stable and _finite(reading.mass_mg),
                f"read_stable() gave {reading!r}: a stable reading or a BUSY refusal, nothing else",
            )
            return reading

    def read_stable() -> str:
        return f"{stable().mass_mg / 1000:.5f} g, stable"

    def tare_and_zero() -> str:
        """Tare what is on the pan (the vessel), then zero: a balance zeroes only a pan near its power-on zero,
        so a zero refused as beyond its range with the vessel on is as MT-SICS and SBI balances behave."""
        tare = scale.tare()
        _expect(_finite(tare), f"tare() gave {tare!r}")
        tared = stable()
        _expect(abs(tared.mass_mg) < near_zero_mg, f"{tared.mass_mg:g} mg after tare (within ±{near_zero_mg:g})")
        try:
            scale.zero()
        except InstrumentRefused as exc:
            _expect(exc.code is Refusal.OUT_OF_RANGE, f"zero() refused {exc.code}: {exc}")
            return f"tare {tare / 1000:.5f} g, then {tared.mass_mg:.3f} mg; zero refused beyond its range (the vessel)"
        after = stable()
        _expect(abs(after.mass_mg) < near_zero_mg, f"{after.mass_mg:g} mg after zero (within ±{near_zero_mg:g})")
        return f"tare {tare / 1000:.5f} g, then {tared.mass_mg:.3f} mg; after zero {after.mass_mg:.3f} mg"

    device = DeviceKind.SCALE
    return [
        _run(device, f"{name}: {item}", step)
        for item, step in (
            ("identify", identify),
            ("read", read),
            ("stable read", read_stable),
            ("tare, zero", tare_and_zero),
        )
    ]


def valve_checks(valve) -> list[Check]:
    def close_and_open() -> str:
        valve.close()
        valve.open()
        return "closed, then opened"

    return [_run(DeviceKind.VALVE, "close, open", close_and_open)]


def site_checks(site: SiteFixture, leak_fraction: float) -> list[Check]:
    def make(fault: Callable[[], None], what: str) -> Callable[[], str]:
        def step() -> str:
            try:
                fault()
            finally:
                site.restore()
            return f"{what}, then restored"

        return step

    return [
        _run(DeviceKind.SITE, item, step)
        for item, step in (
            ("full kink", make(lambda: site.kink(), "kinked")),
            ("partial kink", make(lambda: site.kink(10.0), "kinked ×10")),
            ("leak", make(lambda: site.leak(leak_fraction), f"leaking {leak_fraction:g}")),
            ("dislodge", make(site.dislodge, "dislodged")),
        )
    ]


def reservoir_checks(rig: Rig, fixture: ReservoirFixture) -> list[Check]:
    def fit_and_restore() -> str:
        rig.pump.stop()
        try:
            fixture.fit(CHECK_FILL_U)
            fitted = rig.pump.status().reservoir_U
        finally:
            fixture.restore()
        full = rig.pump.status().reservoir_U
        _expect(
            abs(fitted - CHECK_FILL_U) <= fit_tolerance_U(CHECK_FILL_U) and full > fitted,
            f"the pump reports {fitted:g} U after a {CHECK_FILL_U:g} U reservoir was fitted, {full:g} U after a "
            "full one",
        )
        return f"{CHECK_FILL_U:g} U fitted, the pump reports {fitted:g} U; a full one fitted, {full:g} U"

    return [_run(DeviceKind.RESERVOIR, "fit, restore", fit_and_restore)]


def checks(rig: Rig, devices: set[DeviceKind]) -> list[Check]:
    """Every selected device of the open rig against its contract; a device the rig lacks gives one n/a row."""
    found: list[Check] = []
    if DeviceKind.PUMP in devices:
        found += pump_checks(rig)
    if DeviceKind.SCALE in devices:
        found += scale_checks(rig, rig.scale)
        if rig.lost_scale is not None:
            found += scale_checks(rig, rig.lost_scale, "lost_scale")
    if DeviceKind.VALVE in devices:
        found += (
            valve_checks(rig.occlusion_valve)
            if rig.occlusion_valve
            else [
                Check(
                    DeviceKind.VALVE,
                    "occlusion valve",
                    "none on this rig (actuators.occlusion_valve)",
                    Status.NOT_AVAILABLE,
                )
            ]
        )
    if DeviceKind.SITE in devices:
        site_cfg = rig.config.section("actuators").get("site_faults") or {}
        found += (
            site_checks(rig.site_faults, site_cfg.get("leak_fraction", 0.3))
            if rig.site_faults
            else [
                Check(DeviceKind.SITE, "site fixture", "none on this rig (actuators.site_faults)", Status.NOT_AVAILABLE)
            ]
        )
    if DeviceKind.RESERVOIR in devices:
        found += (
            reservoir_checks(rig, rig.reservoir)
            if rig.reservoir
            else [
                Check(
                    DeviceKind.RESERVOIR,
                    "reservoir fixture",
                    "none on this rig (actuators.reservoir)",
                    Status.NOT_AVAILABLE,
                )
            ]
        )
    return found
