"""The emulated pump: firmware state machine, stroke mechanics and the reference protocol (docs/protocol.md).

Basal is a train of evenly spaced strokes, the first one a full period after the rate is set (the pump
accumulates a whole stroke before it moves). A bolus is a train of strokes at the bolus speed. Every stroke
pushes a scattered volume into the fluid path; the pump itself believes it delivered the nominal amount.
After every stroke the firmware reads the line pressure (its plunger force sensor); at the occlusion
threshold it raises a HIGH-priority alarm, stops delivery and, when enabled, backs the plunger off.
"""

import bisect
import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hil.emulation.options import AutoModeParams, Defects, PumpParams
from hil.emulator import auto_mode, bolus_calculator
from hil.emulator.auto_mode import AutoDesign, AutoMode, AutoSettings, Decision, Zone
from hil.emulator.glucose_suspend import GlucoseSuspend, SuspendSettings
from hil.emulator.microbolus import Microbolus
from hil.emulator.plant_interface import Plant
from hil.emulator.scheduler import Event, Scheduler
from hil.emulator.site_check import SiteCheck
from hil.transport.frames import Frame

PROTOCOL_VERSION = 1
UL_PER_U = 10.0  # U-100
DAY_S = 86_400.0
# The bolus calculator's settings, (low, high): Omnipod 5's IC ratio and correction factor ranges; the target 70-200
# mg/dL, the project's design (Omnipod 5's Target Glucose is 110-150, its Correct Above 110-200;
# docs/references.md, "The bolus calculator")
CALCULATOR_RANGES = ((1.0, 150.0), (1.0, 400.0), (70.0, 200.0))
# [E] The most segments a basal programme takes: one an hour (the reference firmware's design; Omnipod 5's Basal
# Programs are set as segments of a day too, docs/references.md, "Time of day").
MAX_SEGMENTS = 24
# SET's auto-mode settings, (low, high): Control-IQ's targets lie within 100-160 mg/dL; correction factors and the
# caps span what oref0's documentation allows a user to set
AUTO_SETTING_RANGES = {"target": (100.0, 160.0), "isf": (5.0, 400.0), "max_basal": (0.05, 30.0), "max_iob": (0.0, 30.0)}


@functools.cache
def _signature(command: Callable) -> inspect.Signature:
    """A command method's signature, worked out once (inspect takes longer than most commands do)."""
    return inspect.signature(command)


def _within(text: str, low: float, high: float) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return low <= value <= high


@dataclass
class Alarm:
    id: int
    kind: str
    priority: str
    raised_s: float
    acknowledged: bool = False


class Refused(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message


class EmulatedPump:
    def __init__(
        self,
        params: PumpParams,
        defects: Defects,
        plant: Plant,
        scheduler: Scheduler,
        rng: np.random.Generator,
        emit: Callable[[str, dict], None],
        sensor_rng: np.random.Generator,
        auto_design: AutoModeParams,
    ):
        self.p = params
        self.auto_design = auto_design
        self.defects = defects
        self.plant = plant
        self.sched = scheduler
        self.rng = rng
        self.emit = emit
        self.state = "SUSPENDED"
        self.profile_rate = 0.0  # the programmed basal in effect: the programme's rate at the time of day
        # The basal programme by time of day (SEGMENT): (start, s after midnight; rate); BASAL gives one rate all day.
        self.programme: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
        self._pending: list[tuple[float, float]] = []  # a programme's segments received so far (SEGMENT i n ...)
        self._pending_count = 0  # of how many
        self._segment_event: Event | None = None  # the next segment's start
        self._tod_offset_s = 0.0  # the time of day (TIME) less the pump's clock
        self._basal_held_until = 0.0  # seeded clock_back_holds_basal: no basal stroke before this
        self._catch_up: list[Event] = []  # seeded clock_forward_catches_up: the skipped time's basal, stroke by stroke
        self.temp_rate: float | None = None  # a temporary basal overrides it until temp_end_s
        self.temp_end_s = 0.0
        self._temp_event: Event | None = None
        self.reservoir_U = params.reservoir_U  # what the firmware counts is left
        self.cartridge_uL = params.reservoir_U * UL_PER_U  # what the reservoir holds: a stroke moves no more
        self.reservoir_alert_U = params.reservoir_alert_U  # the low-reservoir alert (RESALERT)
        self._reservoir_alerted = False  # the low-reservoir alert raised for this reservoir
        self._runaway: Event | None = None  # an injected runaway motor's next stroke (INJECT)
        self._uncommanded = 0  # strokes the supervisor saw the encoder make without a command, since the injection
        self.delivered_U = 0.0
        self.slack_uL = params.slack_U * UL_PER_U
        self.backoff_enabled = True
        # The user's dose limits (LIMITS): the reference firmware ships them at the top of
        # their ranges, as a pump's settings allow (Omnipod 5: maximum bolus and maximum basal rate up to 30 U and
        # 30 U/h, docs/references.md, "Dose limits"); a test sets its own.
        self.max_bolus_U = params.bolus_max_U
        self.max_basal_rate_U_per_h = params.basal_max_U_per_h
        self.cgm: tuple[float, float | None, float] | None = None  # (mg/dL, trend mg/dL/min or None, time received)
        self._cgm_taken_s = -math.inf  # when the CGM took its last value (received less its age)
        self.calculator = bolus_calculator.CalculatorSettings()
        self.suspend_settings = SuspendSettings()
        self.auto_settings = AutoSettings()
        self.auto: AutoDesign | None = None  # auto mode on: its state; off: None
        self.auto_rate: float | None = None  # the automatic basal in effect (auto mode on)
        self.auto_zone: Zone | None = None
        self._auto_since = 0.0  # when the automatic rate in effect was set
        self._cgm_loss_events: list[Event] = []  # the CGM-lost fallback and the exit after it, while armed
        self.insulin_doses: list[tuple[float, float]] = []  # (time s, net U): boluses, the automatic basal's deviation
        self._prune_doses_at = 512
        self._undelivered_share = 0.0  # seeded aid_basal_not_delivered: the strokes above the profile not moved
        self.lgs = GlucoseSuspend(
            self.suspend_settings,
            defects,
            lambda: scheduler.now,
            scheduler.at,
            self._auto_suspend,
            self._auto_resume,
            lambda kind, prio: self._raise_alarm(kind, prio, stop=False),
        )
        self.site_check = SiteCheck(
            params,
            defects,
            sensor_rng,
            scheduler.at,
            lambda: plant.pressure_kPa,
            lambda kind, prio: self._raise_alarm(kind, prio, stop=False),
            self._escalate,
        )
        self.stroke_times: list[float] = []  # delivery history: every counted stroke
        self._boluses = 0  # boluses started since RESET (seeded defect bolus_skip_every)
        self._counted_strokes = 0  # counted strokes since RESET (seeded defect history_phantom_stroke_every)
        self.alarms: list[Alarm] = []
        self._basal_event: Event | None = None
        self._bolus_events: list[Event] = []
        self._bolus_kind = ""
        self._user_bolus = False  # the bolus in progress is the user's (not an automatic correction)
        self._last_user_bolus_s = -math.inf  # the start, cancellation or completion of the user's last bolus
        self._bolus_left_U = 0.0

    # -- mechanics ---------------------------------------------------------------------------------------
    def _stroke(self, counted: bool, deliver: bool = True) -> None:
        """One stroke of the plunger. The firmware knows what is left by counting strokes from the fill; the reservoir
        holds what it holds, so a stroke past its last insulin moves nothing (strokes larger than the count's, or a
        fill that was less, empty it before the count does)."""
        if self.reservoir_U < self.p.stroke_U - 1e-9 and not self.defects.empty_reservoir_not_detected:
            self._raise_alarm("RESERVOIR_EMPTY", "HIGH")
            return
        self._plunger(deliver)
        self.reservoir_U = max(0.0, self.reservoir_U - self.p.stroke_U)
        self._check_reservoir_alert()
        if counted:
            self.delivered_U += self.p.stroke_U
            self.stroke_times.append(self.sched.now)
            self._counted_strokes += 1
            phantom = self.defects.history_phantom_stroke_every
            if phantom and self._counted_strokes % phantom == 0:  # seeded defect: a stroke logged that never moved
                self.delivered_U += self.p.stroke_U
                self.stroke_times.append(self.sched.now)
        if self.plant.pressure_kPa >= self.p.occlusion_threshold_kPa:
            self._occlusion()

    def _plunger(self, deliver: bool = True) -> None:
        """The plunger's travel of one stroke: its play taken up first, then insulin from the reservoir into the line
        (`deliver` False: a seeded defect's stroke that never moved)."""
        volume = self.p.stroke_U * UL_PER_U * (1 + self.defects.stroke_volume_bias)
        volume *= max(0.0, 1 + self.p.stroke_cv * self.rng.standard_normal())
        taken = min(self.slack_uL, volume)  # travel that takes up the plunger's play moves no insulin
        self.slack_uL -= taken
        if deliver:
            moved = min(self.cartridge_uL, volume - taken)
            self.cartridge_uL -= moved
            self.plant.push(moved)

    def _runaway_stroke(self) -> None:
        """An injected runaway: the motor strokes at its full speed, commanded by nothing; the supervisor sees the
        encoder move and, at its trip count, cuts the motor's power (the stuck stage then moves nothing) and raises
        DELIVERY_FAULT, which stops the pump. The seeded runaway_not_detected never trips."""
        self._runaway = None
        self._plunger()
        self._uncommanded += 1
        if self._uncommanded >= self.p.runaway_trip_strokes and not self.defects.runaway_not_detected:
            self._raise_alarm("DELIVERY_FAULT", "HIGH")
            return
        self._runaway = self.sched.at(self.sched.now + self._full_speed_period_s(), self._runaway_stroke)

    def _full_speed_period_s(self) -> float:
        return self.p.stroke_U / self.p.prime_speed_U_per_min * 60.0

    def _check_reservoir_alert(self) -> None:
        """The low-reservoir alert, once per reservoir, when the count reaches the amount set (LOW priority: it asks for
        a reservoir change soon, as t:slim X2's Low Insulin Alert and Omnipod 5's advisory do; it stops nothing)."""
        threshold = self.reservoir_alert_U * (0.2 if self.defects.low_reservoir_alert_late else 1.0)
        if not self._reservoir_alerted and self.reservoir_U <= threshold + 1e-9:
            self._reservoir_alerted = True
            self._raise_alarm("RESERVOIR_LOW", "LOW", stop=False)

    def fit_reservoir(self, fill_U: float) -> None:
        """A new reservoir holding `fill_U` fitted (the rig's reservoir fixture) and the firmware's reservoir change
        done: delivery stopped, the count from the fill, the plunger's slack back, the old reservoir's alarms
        cleared. The infusion set stays, to be primed."""
        self._cmd_suspend()
        self.cartridge_uL = fill_U * UL_PER_U
        self.reservoir_U = fill_U
        self.slack_uL = self.p.slack_U * UL_PER_U
        self._reservoir_alerted = False
        for alarm in self.alarms:
            if alarm.kind in ("RESERVOIR_EMPTY", "RESERVOIR_LOW"):
                alarm.acknowledged = True
        if self.state == "ALARM" and all(a.acknowledged for a in self.alarms):
            self.state = "SUSPENDED"

    def _occlusion(self) -> None:
        if any(a.kind == "OCCLUSION" and not a.acknowledged for a in self.alarms):
            return
        pressure = self.plant.pressure_kPa
        stop = not self.defects.occlusion_keeps_delivering
        self._raise_alarm(
            "OCCLUSION", self.defects.occlusion_alarm_priority or "HIGH", stop=stop, pressure=f"{pressure:.1f}"
        )
        if stop and self.backoff_enabled and not self.defects.occlusion_no_backoff:
            backoff = self.p.occlusion_backoff_U * UL_PER_U
            self.slack_uL += backoff - self.plant.retract(backoff)  # a retraction beyond the fluid is slack

    @property
    def basal_rate(self) -> float:
        """The rate in effect: the temporary basal while one runs, else the automatic one in auto mode, else the
        programmed one."""
        if self.temp_rate is not None:
            return self.temp_rate
        return self.profile_rate if self.auto_rate is None else self.auto_rate

    def _basal_period_s(self) -> float:
        return self.p.stroke_U / self.basal_rate * 3600.0 * (1 + self.defects.basal_period_drift)

    def _schedule_basal(self) -> None:
        if self._basal_event:
            self._basal_event.cancel()
            self._basal_event = None
        delivering = self.state == "RUNNING" or (
            self.state == "AUTO_SUSPENDED" and self.defects.lgs_motor_keeps_stepping
        )
        if delivering and self.basal_rate > 0:
            start = max(self.sched.now, self._basal_held_until)
            self._basal_event = self.sched.at(start + self._basal_period_s(), self._basal_stroke)

    def _basal_stroke(self) -> None:
        self._basal_event = None
        self.site_check.before_basal_stroke()
        self._stroke(counted=True, deliver=self._auto_stroke_moves())
        self._schedule_basal()

    def _auto_stroke_moves(self) -> bool:
        """False for the strokes of an automatic increase that the seeded aid_basal_not_delivered counts and never
        moves: the motor keeps to the profile while the history shows the automatic rate."""
        if not (self.defects.aid_basal_not_delivered and self.auto_rate and self.auto_rate > self.profile_rate):
            return True
        self._undelivered_share += 1 - self.profile_rate / self.auto_rate
        if self._undelivered_share >= 1:
            self._undelivered_share -= 1
            return False
        return True

    def _start_train(self, kind: str, amount_U: float, speed_U_per_min: float) -> float:
        if self.state == "ALARM":  # only a stopping alarm leaves the pump in ALARM
            raise Refused("NOT_ALLOWED", "pump is ALARM")
        strokes = round(amount_U / self.p.stroke_U)
        period = self.p.stroke_U / speed_U_per_min * 60.0
        declared_s = strokes * period
        if kind == "BOLUS" and speed_U_per_min == self.p.bolus_speed_U_per_min:
            period /= 1 - self.defects.bolus_speed_shortfall  # seeded defect: slower than the declared speed
        missing = self.defects.bolus_missing_last_strokes if kind == "BOLUS" else 0
        if kind == "BOLUS":
            self._boluses += 1
            skip = self.defects.bolus_skip_every
            if skip and self._boluses % skip == 0:
                missing = strokes  # seeded defect: the whole bolus is counted and reported, the motor never moves
        start = self.sched.now
        self._bolus_kind, self._bolus_left_U = kind, strokes * self.p.stroke_U
        for k in range(strokes):
            deliver = k < strokes - missing

            def pulse(deliver=deliver):
                self._bolus_left_U -= self.p.stroke_U
                self._stroke(counted=kind == "BOLUS", deliver=deliver)
                if kind == "BOLUS":  # the insulin on board counts what the pump delivered, stroke by stroke
                    self._log_insulin(self.sched.now, self.p.stroke_U)

            self._bolus_events.append(self.sched.at(start + k * period, pulse))
        self._bolus_events.append(self.sched.at(start + strokes * period, lambda: self._end_train(amount_U)))
        return declared_s

    def _end_train(self, amount_U: float) -> None:
        kind = self._bolus_kind
        self._user_bolus_event()
        self._bolus_events, self._bolus_kind, self._bolus_left_U = [], "", 0.0
        self.emit(f"{kind}_DONE", {"amount": f"{amount_U:.3f}"})

    def _user_bolus_event(self) -> None:
        """A bolus train ends or is cancelled: if it was the user's, auto mode holds its corrections off from now."""
        if self._user_bolus:
            self._last_user_bolus_s = self.sched.now
        self._user_bolus = False

    def _cancel_train(self) -> float:
        self._user_bolus_event()
        left = self._bolus_left_U
        for event in self._bolus_events:
            event.cancel()
        self._bolus_events, self._bolus_kind, self._bolus_left_U = [], "", 0.0
        return left

    def _raise_alarm(self, kind: str, priority: str, stop: bool = True, **fields: str) -> Alarm | None:
        """A new alarm (None while one of its kind is still unacknowledged)."""
        if any(a.kind == kind and not a.acknowledged for a in self.alarms):
            return None
        alarm = Alarm(len(self.alarms) + 1, kind, priority, self.sched.now)
        self.alarms.append(alarm)
        if stop:
            self.state = "ALARM"
            self._cancel_train()
            self._exit_auto("ALARM")
            self._schedule_basal()
        self.emit("ALARM", {"id": alarm.id, "kind": kind, "priority": priority, "t": f"{alarm.raised_s:.3f}", **fields})
        return alarm

    def _escalate(self, alarm: Alarm) -> None:
        """Still unacknowledged: the same alarm again, at HIGH priority."""
        if not alarm.acknowledged and alarm.priority != "HIGH":
            alarm.priority = "HIGH"
            self.emit("ALARM", {"id": alarm.id, "kind": alarm.kind, "priority": "HIGH", "t": f"{alarm.raised_s:.3f}"})

    # -- protocol ----------------------------------------------------------------------------------------
    def handle(self, frame: Frame) -> tuple[str, ...]:
        """The OK fields for a request; raises Refused for a typed error."""
        handler = getattr(self, "_cmd_" + frame.word.lower(), None) if frame.word.isalpha() else None
        if handler is None:
            raise Refused("UNKNOWN_COMMAND", frame.word)
        try:
            _signature(handler.__func__).bind(self, *frame.args)
        except TypeError:
            raise Refused("BAD_ARGUMENT", f"{frame.word} does not take {len(frame.args)} argument(s)") from None
        return handler(*frame.args)

    def _amount(self, text: str, low: float, high: float, what: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise Refused("BAD_ARGUMENT", f"{what} '{text}' is not a number") from None
        if not (low - 1e-9 <= value <= high + 1e-9) or not self._on_increment(value):
            raise Refused("BAD_ARGUMENT", f"{what} {text} outside {low:g}-{high:g} in steps of {self.p.increment_U:g}")
        return value

    def _cmd_id(self):
        return (
            f"model={self.p.model}",
            f"serial={self.p.serial}",
            f"fw={self.p.firmware}",
            f"proto={PROTOCOL_VERSION}",
        )

    def _cmd_status(self):
        active = ",".join(str(a.id) for a in self.alarms if not a.acknowledged) or "-"
        return (
            f"state={self.state}",
            f"basal={self.basal_rate:.3f}",
            f"bolus={self._bolus_kind or 'IDLE'}",
            f"bolus_left={self._bolus_left_U:.3f}",
            f"reservoir={self.reservoir_U:.3f}",
            f"delivered={self.delivered_U:.3f}",
            f"alarms={active}",
            f"pressure={self.plant.pressure_kPa:.1f}",
            f"backoff={int(self.backoff_enabled)}",
            f"cgm={self.cgm[0]:.0f}" if self.cgm else "cgm=-",
            f"t={self.sched.now * self.p.clock_rate:.3f}",
        )

    def _cmd_cgm(self, glucose: str = "", trend: str = "", age: str = ""):
        """CGM <mg/dL> [trend mg/dL/min] [age s]: a sensor glucose value from the CGM feed, with the CGM's trend
        (without one the low-glucose suspend fits its own) and how long ago the CGM took it (default 0)."""
        try:
            value, slope = float(glucose), float(trend) if trend and trend != "-" else None
            taken_ago = float(age) if age else 0.0
        except ValueError:
            raise Refused(
                "BAD_ARGUMENT", f"CGM needs a glucose, a trend and an age, got '{glucose}' '{trend}' '{age}'"
            ) from None
        if not 20 <= value <= 600:
            raise Refused("BAD_ARGUMENT", f"glucose {value:g} mg/dL outside 20-600")
        if not 0 <= taken_ago <= 86_400:
            raise Refused("BAD_ARGUMENT", f"age {taken_ago:g} s outside 0-86400")
        self.cgm = (value, slope, self.sched.now)
        self._cgm_taken_s = self.sched.now - taken_ago
        self.lgs.on_cgm(value, slope)
        fresh = taken_ago <= auto_mode.FRESH_S or self.defects.aid_stale_cgm_as_fresh
        if self.auto is not None and fresh:
            self._auto_cycle(self.sched.now - taken_ago, value, self.lgs.predicted(slope))
        return (f"cgm={value:.0f}",)

    # -- auto mode (hil/emulator/auto_mode.py) ---------------------------------------------------------------
    def _cmd_auto(self, switch: str = ""):
        """AUTO [ON|OFF]: enter or leave auto mode; without an argument, its state."""
        if switch == "ON" and self.auto is None:
            if self.state != "RUNNING":
                raise Refused("NOT_ALLOWED", f"pump is {self.state}")
            if self.temp_rate is not None:
                raise Refused("NOT_ALLOWED", "a temporary basal is running")
            self.auto = self._auto_design()
            self._arm_cgm_loss()  # no CGM value yet: missing from now
        elif switch == "OFF":
            self._exit_auto("USER")
        elif switch not in ("", "ON"):
            raise Refused("BAD_ARGUMENT", "AUTO takes ON or OFF")
        self._close_auto_period()
        iob = self.auto.iob(self.sched.now) if self.auto else 0.0
        return (
            f"auto={'ON' if self.auto else 'OFF'}",
            f"basal={self.basal_rate:.3f}",
            f"zone={self.auto_zone or '-'}",
            f"iob={iob:.3f}",
        )

    def _auto_design(self) -> AutoDesign:
        """The rig's auto-mode design (emulator.auto_mode.design) on this pump's settings, increments and log."""
        shared: dict[str, Any] = dict(
            settings=self.auto_settings,
            profile_rate=lambda: self.profile_rate,
            increment=self.p.increment_U,
            defects=self.defects,
            doses=self.insulin_doses,
            last_user_bolus_s=lambda: self._last_user_bolus_s,
        )
        if self.auto_design.design == "microbolus":
            return Microbolus(**shared, simulated_cgm=self.auto_design.simulated_cgm)
        return AutoMode(**shared)

    def _auto_cycle(self, taken_s: float, glucose: float, from_trend: float) -> None:
        """A fresh CGM value in auto mode: the cycle's automatic rate, and a correction when one is due."""
        assert self.auto is not None
        now = self.sched.now
        self._arm_cgm_loss()
        self._close_auto_period()
        decision = self.auto.cycle(now, taken_s, glucose, from_trend)
        self._set_auto_rate(decision.rate, decision.zone, decision)
        if decision.correction and self.state == "RUNNING" and not self._bolus_kind:
            if decision.correction <= self.reservoir_U:
                self.auto.last_correction_s = now
                self._start_train("BOLUS", decision.correction, self.p.bolus_speed_U_per_min)
                self.emit(
                    "AUTO_BOLUS",
                    {
                        "amount": f"{decision.correction:.3f}",
                        "predicted": f"{decision.predicted:.0f}",
                        "iob": f"{decision.iob:.3f}",
                        "t": f"{now:.3f}",
                    },
                )

    def _set_auto_rate(self, rate: float, zone: Zone, decision: Decision | None = None) -> None:
        """The automatic basal from now: the insulin of the one before, beyond the profile, goes to the insulin on
        board; a new rate keeps the stroke in progress (its elapsed share counts at the new rate)."""
        now = self.sched.now
        self._close_auto_period()
        changed = (rate, zone) != (self.auto_rate, self.auto_zone)
        old_period = self._basal_period_s() if self.basal_rate > 0 else None
        self.auto_rate, self.auto_zone = rate, zone
        if not changed:
            return
        self._reschedule_basal_keeping_phase(old_period)
        fields = {"rate": f"{rate:.3f}", "zone": str(zone)}
        if decision is not None:
            fields |= {"predicted": f"{decision.predicted:.0f}", "iob": f"{decision.iob:.3f}"}
        self.emit("AUTO_BASAL", fields | {"t": f"{now:.3f}"})

    def _close_auto_period(self) -> None:
        """The automatic basal's insulin beyond the profile since it was last counted, into the insulin on board
        (at the middle of that time, oref0 counting a temporary basal as doses spread over it)."""
        now = self.sched.now
        if self.auto_rate is not None and now > self._auto_since:
            hours = (now - self._auto_since) / 3600.0
            self._log_insulin((now + self._auto_since) / 2, (self.auto_rate - self.profile_rate) * hours)
        self._auto_since = now

    def _log_insulin(self, t: float, units: float) -> None:
        """Net insulin into the log the insulin on board is taken from; what is older than its action is dropped."""
        self.insulin_doses.append((t, units))
        if len(self.insulin_doses) > self._prune_doses_at:  # pruned when the log has doubled: O(1) a dose
            horizon = t - auto_mode.DIA_MIN * 60.0
            self.insulin_doses[:] = [(ti, u) for ti, u in self.insulin_doses if ti > horizon]
            self._prune_doses_at = max(512, 2 * len(self.insulin_doses))

    def _reschedule_basal_keeping_phase(self, old_period: float | None) -> None:
        pending = self._basal_event
        self._schedule_basal()
        if pending is None or old_period is None or self._basal_event is None:
            return
        done = 1.0 - (pending.time - self.sched.now) / old_period  # the share of the stroke already accumulated
        self._basal_event.cancel()
        left = (1.0 - min(max(done, 0.0), 1.0)) * self._basal_period_s()
        self._basal_event = self.sched.at(max(self.sched.now, self._basal_held_until) + left, self._basal_stroke)

    def _arm_cgm_loss(self) -> None:
        """From the last fresh value: the profile basal with a MEDIUM alert after 20 min, the exit from auto mode
        after 90 min more (a seeded aid_no_cgm_fallback arms neither)."""
        for event in self._cgm_loss_events:
            event.cancel()
        self._cgm_loss_events = []
        if self.defects.aid_no_cgm_fallback:
            return
        lost_at = self.sched.now + auto_mode.CGM_MISSING_S
        self._cgm_loss_events = [
            self.sched.at(lost_at, self._cgm_lost),
            self.sched.at(lost_at + auto_mode.EXIT_AFTER_SAFE_BASAL_S, lambda: self._exit_auto("CGM_LOST")),
        ]

    def _cgm_lost(self) -> None:
        self._set_auto_rate(self.profile_rate, Zone.CGM_LOST)
        self._raise_alarm("AUTO_CGM_LOST", "MEDIUM", stop=False)

    def _exit_auto(self, reason: str) -> None:
        """Auto mode off: the profile basal again; the exit said (an alarm when the pump left it on its own)."""
        if self.auto is None:
            return
        for event in self._cgm_loss_events:
            event.cancel()
        self._cgm_loss_events = []
        self._set_auto_rate(self.profile_rate, Zone.PROFILE)
        old_period = self._basal_period_s() if self.basal_rate > 0 else None
        self.auto, self.auto_rate, self.auto_zone = None, None, None
        self._reschedule_basal_keeping_phase(old_period)
        self.emit("AUTO_EXIT", {"reason": reason, "t": f"{self.sched.now:.3f}"})
        if reason == "CGM_LOST":
            self._raise_alarm("AUTO_EXIT", "MEDIUM", stop=False)

    def _auto_suspend(self, kind: str) -> None:
        if self.state != "RUNNING":
            return
        self.state = "AUTO_SUSPENDED"
        if not self.defects.lgs_motor_keeps_stepping:
            self._cancel_train()
            self._schedule_basal()
        self.emit("SUSPEND", {"reason": kind, "t": f"{self.sched.now:.3f}"})

    def _auto_resume(self, reason: str) -> None:
        if self.state == "AUTO_SUSPENDED":
            self.state = "RUNNING"
            self._schedule_basal()
            self.emit("RESUME", {"reason": reason, "t": f"{self.sched.now:.3f}"})

    def _cmd_history(self, since: str = ""):
        try:
            t0 = float(since)
        except ValueError:
            raise Refused("BAD_ARGUMENT", f"HISTORY needs a start time, got '{since}'") from None
        strokes = len(self.stroke_times) - bisect.bisect_left(self.stroke_times, t0)
        return (f"since={t0:.3f}", f"strokes={strokes}", f"amount={strokes * self.p.stroke_U:.3f}")

    def _cmd_set(self, *settings: str):
        """SET key=value ...: backoff=0|1, low_limit=50-90 (mg/dL), before_low=0|1, on_low=0|1; auto mode's
        target=100-160 (mg/dL), isf=5-400 (mg/dL per U), max_basal=0.05-30 (U/h), max_iob=0-30 (U)."""
        s, a = self.suspend_settings, self.auto_settings
        pairs = [setting.partition("=")[::2] for setting in settings]
        for (key, value), setting in zip(pairs, settings, strict=True):  # all checked before any is applied
            if not (
                (key in ("backoff", "before_low", "on_low") and value in ("0", "1"))
                or (key == "low_limit" and value.isdigit() and 50 <= int(value) <= 90)
                or (key in AUTO_SETTING_RANGES and _within(value, *AUTO_SETTING_RANGES[key]))
            ):
                raise Refused(
                    "BAD_ARGUMENT",
                    f"bad setting '{setting}' (backoff, before_low, on_low: 0|1; low_limit: 50-90; "
                    + "; ".join(f"{k}: {lo:g}-{hi:g}" for k, (lo, hi) in AUTO_SETTING_RANGES.items())
                    + ")",
                )
        for key, value in pairs:
            if key == "backoff":
                self.backoff_enabled = value == "1"
            elif key == "low_limit":
                s.low_limit = float(value)
            elif key in AUTO_SETTING_RANGES:
                setattr(a, key, float(value))
            else:
                setattr(s, key, value == "1")
        return (
            f"backoff={int(self.backoff_enabled)}",
            f"low_limit={s.low_limit:.0f}",
            f"before_low={int(s.before_low)}",
            f"on_low={int(s.on_low)}",
            f"target={a.target:g}",
            f"isf={a.isf:g}",
            f"max_basal={a.max_basal:g}",
            f"max_iob={a.max_iob:g}",
        )

    def _cmd_limits(self, max_bolus: str = "", max_basal_rate: str = ""):
        """LIMITS [<max bolus U> <max basal rate U/h>]: the user's dose limits, set when given (both, each within the
        pump's bolus or basal range and on its increment; the maximum rate not below the programmed or a running
        temporary rate, as Omnipod 5's), and answered as they are."""
        if max_bolus or max_basal_rate:
            params = self.p
            bolus = self._amount(max_bolus, params.bolus_min_U, params.bolus_max_U, "maximum bolus")
            rate = self._amount(
                max_basal_rate, params.basal_min_U_per_h, params.basal_max_U_per_h, "maximum basal rate"
            )
            in_use = max(*(r for _, r in self.programme), self.temp_rate or 0.0)
            if rate < in_use - 1e-9:
                raise Refused("NOT_ALLOWED", f"maximum basal rate {rate:g} U/h below the {in_use:g} U/h in use")
            self.max_bolus_U, self.max_basal_rate_U_per_h = bolus, rate
        return (f"max_bolus={self.max_bolus_U:.3f}", f"max_basal_rate={self.max_basal_rate_U_per_h:.3f}")

    def _cmd_resalert(self, amount: str = ""):
        """RESALERT [<U>]: the low-reservoir alert's amount, set when given (within the pump's range, on its
        increment), and answered as it is."""
        if amount:
            self.reservoir_alert_U = self._amount(
                amount, self.p.reservoir_alert_min_U, self.p.reservoir_alert_max_U, "low-reservoir alert"
            )
            self._reservoir_alerted = False  # less left than the new amount: the alert at the next stroke
        return (f"reservoir_alert={self.reservoir_alert_U:.3f}",)

    def _cmd_calcset(self, ratio: str = "", factor: str = "", target: str = ""):
        """CALCSET [<g/U> <mg/dL/U> <mg/dL>]: the bolus calculator's insulin-to-carb ratio, correction factor and
        target, set when given (all three, each within its range), and answered as they are."""
        if ratio or factor or target:
            values = []
            for text, (low, high), what in zip(
                (ratio, factor, target), CALCULATOR_RANGES, ("carb ratio", "correction factor", "target"), strict=True
            ):
                if not _within(text, low, high):
                    raise Refused("BAD_ARGUMENT", f"{what} '{text}' outside {low:g}-{high:g}")
                values.append(float(text))
            self.calculator = bolus_calculator.CalculatorSettings(*values)
        c = self.calculator
        return (
            f"ratio={c.carb_ratio_g_per_U:g}",
            f"factor={c.correction_factor_mg_dl_per_U:g}",
            f"target={c.target_mg_dl:g}",
        )

    def _cmd_calc(self, carbs: str = "", glucose: str = "-"):
        """CALC <g> [<mg/dL>|CGM|-]: the bolus calculator's advice for a meal of `carbs` and a glucose entered, the
        CGM's last value (used only when taken within pump.calculator_glucose_max_age_s), or none; delivers nothing."""
        if not _within(carbs, 0, 300):
            raise Refused("BAD_ARGUMENT", f"carbohydrate '{carbs}' outside 0-300 g")
        if glucose == "CGM":
            age_s = self.sched.now - self._cgm_taken_s
            fresh = age_s <= self.p.calculator_glucose_max_age_s or self.defects.calculator_uses_stale_cgm
            value = self.cgm[0] if self.cgm and fresh else None
        elif glucose == "-":
            value = None
        elif _within(glucose, 20, 600):
            value = float(glucose)
        else:
            raise Refused("BAD_ARGUMENT", f"glucose '{glucose}' is none of 20-600 mg/dL, CGM or -")
        now = self.sched.now
        iob = sum(u * auto_mode.iob_fraction((now - t) / 60.0) for t, u in self.insulin_doses)
        advice = bolus_calculator.advise(self.calculator, float(carbs), value, iob, self.p.increment_U, self.defects)
        return (
            f"total={advice.total_U:.3f}",
            f"meal={advice.meal_U:.3f}",
            f"correction={advice.correction_U:.3f}",
            f"iob={advice.iob_U:.3f}",
            f"glucose={value:.0f}" if value is not None else "glucose=-",
        )

    def _cmd_inject(self, fault: str = ""):
        """INJECT RUNAWAY_MOTOR|NONE: the verification build's single-fault hook: a runaway motor from the next
        full-speed period on (its supervisor's reaction is the firmware's own), or none (a runaway still going
        stopped)."""
        if fault == "RUNAWAY_MOTOR":
            if self._runaway is None:
                self._uncommanded = 0
                self._runaway = self.sched.at(self.sched.now + self._full_speed_period_s(), self._runaway_stroke)
        elif fault == "NONE":
            if self._runaway is not None:
                self._runaway.cancel()
                self._runaway = None
        else:
            raise Refused("BAD_ARGUMENT", "INJECT takes RUNAWAY_MOTOR or NONE")
        return (f"injected={'RUNAWAY_MOTOR' if self._runaway is not None else 'NONE'}",)

    def _on_increment(self, value: float) -> bool:
        steps = value / self.p.increment_U
        return abs(steps - round(steps)) <= 1e-6

    def _check_basal_limit(self, rate: float, what: str, enforced: bool = True) -> None:
        """A rate above the user's maximum basal rate is refused (unless the seeded defect lets it through)."""
        if enforced and rate > self.max_basal_rate_U_per_h + 1e-9:
            raise Refused(
                "NOT_ALLOWED", f"{what} {rate:g} U/h above the maximum basal rate {self.max_basal_rate_U_per_h:g} U/h"
            )

    def _cmd_basal(self, rate: str = ""):
        try:
            off = float(rate) == 0.0
        except ValueError:
            off = False
        value = 0.0 if off else self._amount(rate, self.p.basal_min_U_per_h, self.p.basal_max_U_per_h, "basal rate")
        self._check_basal_limit(value, "basal rate")
        self._pending = []
        self.programme = ((0.0, value),)
        self._forget_owed_basal()
        self._close_auto_period()
        self.profile_rate = value
        self._arm_segment_change()
        self._schedule_basal()
        return (f"basal={value:.3f}",)

    # -- the basal programme by time of day ------------------------------------------------------------------
    def time_of_day(self) -> float:
        """The pump's time of day, s after midnight: its clock (STATUS t) plus the offset TIME set."""
        return (self._tod_offset_s + self.sched.now * self.p.clock_rate) % DAY_S

    def _programme_clock(self) -> float:
        """The time of day the programme is read at: the clock (the seeded clock_am_pm_swapped: 12 h off it)."""
        return (self.time_of_day() + (DAY_S / 2 if self.defects.clock_am_pm_swapped else 0.0)) % DAY_S

    def _programme_rate(self, time_of_day_s: float) -> float:
        # a hair past the time: at a segment's start (reached by its own event) the new segment's rate
        minute_s = (time_of_day_s + 1e-6) % DAY_S
        return next(rate for start, rate in reversed(self.programme) if start <= minute_s)

    def _follow_programme(self) -> None:
        """The programme's rate at the time of day into effect, the stroke in progress kept, and its next segment's
        start armed."""
        rate = self._programme_rate(self._programme_clock())
        if rate != self.profile_rate:
            self._close_auto_period()
            old_period = self._basal_period_s() if self.basal_rate > 0 else None
            self.profile_rate = rate
            self._reschedule_basal_keeping_phase(old_period)
        self._arm_segment_change()

    def _arm_segment_change(self) -> None:
        if self._segment_event:
            self._segment_event.cancel()
            self._segment_event = None
        if len(self.programme) < 2:
            return
        now = self._programme_clock() + 1e-6
        later = [start for start, _ in self.programme if start > now]
        wait_s = (later[0] if later else DAY_S) - now + 1e-6
        self._segment_event = self.sched.at(self.sched.now + wait_s / self.p.clock_rate, self._segment_change)

    def _segment_change(self) -> None:
        self._segment_event = None
        self._follow_programme()

    def _cmd_segment(self, index: str = "", count: str = "", start: str = "", rate: str = ""):
        """SEGMENT [<i> <n> <hh:mm> <U/h>]: segment i (from 0) of a basal programme of n, each starting after the one
        before, the first at 00:00; the programme takes effect whole at its last segment (a refusal on the way
        leaves the one in effect). Answered with the segments received and the daily total of the programme in
        effect; without arguments, that programme's."""
        if index or count or start or rate:
            try:
                self._receive_segment(index, count, start, rate)
            except Refused:
                self._pending = []  # a programme refused on its way is no programme: the next begins at segment 0
                raise
        received = len(self._pending) if self._pending else len(self.programme)
        of = self._pending_count if self._pending else len(self.programme)
        return (f"received={received}", f"count={of}", f"daily={self._daily_U():.3f}")

    def _receive_segment(self, index: str, count: str, start: str, rate: str) -> None:
        try:
            i, n = int(index), int(count)
            hours, minutes = (int(part) for part in start.split(":"))
        except ValueError:
            raise Refused("BAD_ARGUMENT", "SEGMENT takes <index> <count> <hh:mm> <U/h>") from None
        if not 1 <= n <= MAX_SEGMENTS or not 0 <= i < n:
            raise Refused("BAD_ARGUMENT", f"segment {i} of {n}: up to {MAX_SEGMENTS} segments, numbered from 0")
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise Refused("BAD_ARGUMENT", f"start {start} is no time of day")
        if i == 0:
            self._pending = []  # segment 0 begins a programme anew
        if i != len(self._pending) or (i and n != self._pending_count):
            raise Refused("BAD_ARGUMENT", f"segment {i} of {n} out of order: the programme begins again at segment 0")
        at = hours * 3600.0 + minutes * 60.0
        if (i == 0 and at != 0.0) or (i and at <= self._pending[-1][0]):
            raise Refused("BAD_ARGUMENT", f"segment {i} starts at {start}: the first at 00:00, each after the last")
        try:
            off = float(rate) == 0.0
        except ValueError:
            off = False
        value = 0.0 if off else self._amount(rate, self.p.basal_min_U_per_h, self.p.basal_max_U_per_h, "basal rate")
        self._check_basal_limit(value, f"segment {i}'s rate")
        self._pending.append((at, value))
        self._pending_count = n
        if len(self._pending) == n:
            self.programme, self._pending = tuple(self._pending), []
            self._forget_owed_basal()
            self._follow_programme()

    def _daily_U(self) -> float:
        return self._programme_U(0.0, DAY_S)

    def _programme_U(self, from_s: float, to_s: float) -> float:
        """What the programme gives between two times of day, s after midnight (`to_s` up to a day past `from_s`)."""
        ends = [start for start, _ in self.programme[1:]] + [DAY_S]
        return sum(
            rate * max(0.0, min(end + day, to_s) - max(start + day, from_s)) / 3600.0
            for day in (0.0, DAY_S)
            for (start, rate), end in zip(self.programme, ends, strict=True)
        )

    def _cmd_time(self, seconds: str = ""):
        """TIME [<s after midnight>]: the pump's time of day, set when given, as a user sets the pump's clock; the
        basal programme follows it from then on."""
        if seconds:
            try:
                value = float(seconds)
            except ValueError:
                value = math.nan
            if not 0 <= value < DAY_S:
                raise Refused("BAD_ARGUMENT", f"time of day '{seconds}' outside 0-86399 s")
            if self.p.time_change_needs_pause and self.state == "RUNNING":
                raise Refused("NOT_ALLOWED", "pause insulin delivery to change the time")
            self._set_time_of_day(value)
        return (f"tod={round(self.time_of_day(), 3) % DAY_S:.3f}",)

    def _set_time_of_day(self, value: float) -> None:
        old = self.time_of_day()
        self._tod_offset_s = value - self.sched.now * self.p.clock_rate
        shift = (value - old + DAY_S / 2) % DAY_S - DAY_S / 2  # the nearer way round: a forward or a backward change
        running = self.state == "RUNNING"  # the seeded defects' basal accounting runs with the basal
        if running and shift > 0 and self.defects.clock_forward_catches_up:
            self._deliver_catch_up(old, shift)
        if running and shift < 0 and self.defects.clock_back_holds_basal:
            # seeded defect: basal owed by time of day since the last stroke, nothing owed until the old time is back
            self._basal_held_until = self.sched.now - shift / self.p.clock_rate
            self._schedule_basal()
        self._follow_programme()

    def _deliver_catch_up(self, old: float, shift: float) -> None:
        """Seeded clock_forward_catches_up: basal owed by time of day, so the skipped time's is owed at once, stroke
        by stroke at the motor's full speed, counted as basal."""
        owed = self._programme_U(old, old + shift)
        period = self._full_speed_period_s()
        for k in range(round(owed / self.p.stroke_U)):
            self._catch_up.append(self.sched.at(self.sched.now + (k + 1) * period, self._catch_up_stroke))

    def _catch_up_stroke(self) -> None:
        if self.state == "RUNNING":
            self._stroke(counted=True)

    def _cmd_tempbasal(self, rate: str = "", minutes: str = ""):
        """TEMPBASAL <U/h> <min>: a temporary rate (0 allowed) for 1-1440 min; 0 min cancels one."""
        try:
            duration = int(minutes)
        except ValueError:
            raise Refused("BAD_ARGUMENT", f"duration '{minutes}' is not a whole number of minutes") from None
        if duration != 0 and self.auto is not None:
            raise Refused("NOT_ALLOWED", "auto mode sets the basal: AUTO OFF first")
        if duration != 0:  # checked before the running one is touched: a refusal changes nothing
            if not 1 <= duration <= 1440:
                raise Refused("BAD_ARGUMENT", f"duration {duration} min outside 1-1440")
            try:
                off = float(rate) == 0.0
            except ValueError:
                off = False
            new_rate = (
                0.0 if off else self._amount(rate, self.p.basal_min_U_per_h, self.p.basal_max_U_per_h, "temp rate")
            )
            self._check_basal_limit(new_rate, "temp rate", enforced=not self.defects.temp_basal_limit_not_enforced)
        if self._temp_event:
            self._temp_event.cancel()
            self._temp_event = None
        if duration == 0:
            self.temp_rate = None
        else:
            self.temp_rate = new_rate
            self.temp_end_s = self.sched.now + duration * 60.0
            self._temp_event = self.sched.at(self.temp_end_s, self._end_temp)
        self._schedule_basal()
        return (f"basal={self.basal_rate:.3f}", f"temp_end={self.temp_end_s if self.temp_rate is not None else 0:.3f}")

    def _end_temp(self) -> None:
        self.temp_rate, self._temp_event = None, None
        self._schedule_basal()

    def _check_can_deliver(self) -> None:
        if self.state != "RUNNING":
            raise Refused("NOT_ALLOWED", f"pump is {self.state}")
        if self._bolus_kind:
            raise Refused("NOT_ALLOWED", f"{self._bolus_kind} in progress")

    def _cmd_bolus(self, amount: str = "", speed: str = "STANDARD", *rest):
        speeds = {"STANDARD": self.p.bolus_speed_U_per_min, "QUICK": self.p.quick_bolus_speed_U_per_min}
        if rest or speed not in speeds:
            raise Refused("BAD_ARGUMENT", "BOLUS takes an amount and optionally STANDARD or QUICK")
        value = self._amount(amount, self.p.bolus_min_U, self.p.bolus_max_U, "bolus")
        if value > self.max_bolus_U + 1e-9 and not self.defects.max_bolus_not_enforced:
            raise Refused("NOT_ALLOWED", f"bolus {value:g} U above the maximum bolus {self.max_bolus_U:g} U")
        self._check_can_deliver()
        if value > self.reservoir_U:
            raise Refused("NOT_ALLOWED", f"reservoir holds {self.reservoir_U:.2f} U")
        duration = self._start_train("BOLUS", value, speeds[speed])
        self._user_bolus = True
        self._last_user_bolus_s = self.sched.now
        self.lgs.blocked = self.defects.lgs_blocked_after_bolus
        return (f"bolus={value:.3f}", f"duration={duration:.3f}", f"speed={speeds[speed]:g}")

    def _cmd_prime(self, amount: str = ""):
        value = self._amount(amount, self.p.increment_U, self.p.bolus_max_U, "prime")
        if self._bolus_kind:
            raise Refused("NOT_ALLOWED", f"{self._bolus_kind} in progress")
        duration = self._start_train("PRIME", value, self.p.prime_speed_U_per_min)
        self.site_check.relearn()
        return (f"prime={value:.3f}", f"duration={duration:.3f}")

    def _cmd_cancel(self):
        return (f"cancelled={self._cancel_train():.3f}",)

    def _cmd_suspend(self):
        self._exit_auto("SUSPEND")
        self.lgs.cancel()
        if self.state in ("RUNNING", "AUTO_SUSPENDED"):
            self.state = "SUSPENDED"
        self._cancel_train()
        self._forget_owed_basal()
        self._schedule_basal()
        return (f"state={self.state}",)

    def _forget_owed_basal(self) -> None:
        """The seeded clock defects' accounting starts afresh (a stop, a new programme): nothing owed, nothing held."""
        for event in self._catch_up:
            event.cancel()
        self._catch_up = []
        held, self._basal_held_until = self._basal_held_until > self.sched.now, 0.0
        if held:
            self._schedule_basal()

    def _cmd_stop(self):
        if self.defects.stop_not_idempotent and self.state == "SUSPENDED":
            raise Refused("NOT_ALLOWED", "already stopped")
        return self._cmd_suspend()

    def _cmd_resume(self):
        if any(not a.acknowledged for a in self.alarms):
            raise Refused("ALARM_ACTIVE", "acknowledge the active alarms first")
        if self.state == "AUTO_SUSPENDED":
            self.emit("RESUME", {"reason": "USER", "t": f"{self.sched.now:.3f}"})
        self.lgs.user_resumed()
        self.state = "RUNNING"
        self._schedule_basal()
        return ("state=RUNNING",)

    def _cmd_ack(self, alarm_id: str = ""):
        for alarm in self.alarms:
            if str(alarm.id) == alarm_id:
                alarm.acknowledged = True
                if self.state == "ALARM" and all(a.acknowledged for a in self.alarms):
                    self.state = "SUSPENDED"
                return (f"ack={alarm.id}",)
        raise Refused("BAD_ARGUMENT", f"no alarm {alarm_id!r}")

    def _cmd_alarms(self):
        return tuple(f"{a.id}={a.kind}:{a.priority}:{a.raised_s:.3f}:{int(a.acknowledged)}" for a in self.alarms[-8:])
