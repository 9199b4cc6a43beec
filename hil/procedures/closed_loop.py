"""The closed loop through the rig: a virtual patient receives the insulin the balance measured leaving the pump,
and its CGM goes back to the pump over the pump's own link. Written against the rig clock and drivers only, so a
bench runs it unchanged (the patient then runs in real time).

The balance is read at each CGM sample instant, and the insulin it weighed since the last one is given to the
patient in equal parts over the minutes between (the model's own step). Nothing the pump does can depend on the
patient between two CGM values, so weighing more often would change nothing the pump sees; what it changes is when,
within the interval, the patient gets its insulin, against a subcutaneous absorption of about an hour (kd, ka1, ka2
of the 2008 model). Measured (benchmarks/bench_closed_loop.py, 2026-12-05): a bedtime bolus spread over its 5-min
interval moves the night's glucose by at most 3.4 mg/dL against the same bolus in its minute, where the rig's own
delivery already moves it by 13-25 mg/dL against ideal delivery; and one balance read per CGM value instead of one
a minute, with the patient stepped while the emulator steps (the clock's `meanwhile`), took the loop from 2.7x to
1.5x the model alone as simglucose ships it. The adapter's own right-hand side (hil/patient/uva_padova.py, the same
numbers to the last bit) then made the model 4x faster and the loop 2x: 3 patient-days per wall second, the harness's
0.75 ms per CGM interval now the larger share (2.9x the faster model alone)."""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hil.analysis import cgm_trend
from hil.analysis.dose_metrics import RecordSpan
from hil.analysis.insulin_on_board import DURATION_MIN, remaining_share
from hil.drivers.contracts import Alarm, AutoSettings, PumpEvent, PumpState, Reading, Resumed, Seen, Suspended
from hil.evidence.recording import CsvRecording
from hil.patient import days
from hil.patient.programme import Programme, round_to
from hil.patient.uva_padova import STEP_MIN, VirtualPatient
from hil.procedures import delivery
from hil.procedures.gravimetric import Gravimetry
from hil.rig.rig import Rig

RECORDING_COLUMNS = [
    "patient",
    "scenario",
    "arm",
    "t_s",
    "minute",
    "glucose_mg_dl",
    "cgm_mg_dl",
    "insulin_U",
    "carbs_g",
    "pump_state",
    "mass_mg",
]
STEP_S = STEP_MIN * 60.0
# The pump's CGM trend uses values of the last 20 min (docs/references.md, "CGM trend and predictive suspension"):
# between runs the pump waits longer than that, stopped, so no value of one run enters the next run's prediction.
PAUSE_BETWEEN_RUNS_S = 30 * 60.0


class BadLoopLength(ValueError):
    pass


# clinic_day's settings, by the names requirement cases give them
CLINIC_SETTINGS = ("dose_increment_U", "target_mg_dl", "correction_rule_mg_dl", "max_basal_factor", "max_iob_basal_h")


def clinic_day(
    patient: VirtualPatient,
    day: days.DayScenario,
    dose_increment_U: float,
    target_mg_dl: float,
    correction_rule_mg_dl: float,
    max_basal_factor: float,
    max_iob_basal_h: float,
) -> tuple[Programme, AutoSettings]:
    """A day for one patient on the settings a clinic starts a pump with, the same for the user's bolus calculator
    and auto mode: the correction factor by the rule on the patient's total daily insulin (the 1800 rule), max basal
    a multiple of the programmed basal, max insulin on board the average meal bolus plus hours of that basal."""
    correction_factor = correction_rule_mg_dl / patient.total_daily_insulin_U
    plan = days.plan_for(day, patient, dose_increment_U, correction_factor, target_mg_dl)
    meal_bolus = sum(b.counted_g for b in plan.meal_boluses) / len(plan.meal_boluses) / patient.carb_ratio_g_per_U
    auto = AutoSettings(
        target_mg_dl,
        correction_factor,
        round_to(max_basal_factor * plan.basal_U_per_h, dose_increment_U),
        round_to(meal_bolus + max_iob_basal_h * plan.basal_U_per_h, dose_increment_U),
    )
    return plan, auto


@dataclass
class LoopRecord:
    minute: list[int] = field(default_factory=list)  # end of each model minute
    glucose: list[float] = field(default_factory=list)  # the patient's true (subcutaneous) glucose then
    insulin_U: list[float] = field(default_factory=list)  # what the patient received in that minute
    state: list[PumpState] = field(default_factory=list)  # the pump's state then, as last known
    cgm_minute: list[float] = field(default_factory=list)  # when each CGM value reached the pump
    cgm: list[float] = field(default_factory=list)
    cgm_trend: list[float] = field(default_factory=list)  # the trend sent with each value (mg/dL/min)
    user_boluses: list[tuple[int, float]] = field(default_factory=list)  # (minute, U) the user gave
    events: list[Seen[PumpEvent]] = field(default_factory=list)
    record: RecordSpan | None = None  # the run's delivery against the pump's record of it, from start to end

    @property
    def suspended_min(self) -> float:
        return float(sum(s is PumpState.AUTO_SUSPENDED for s in self.state)) * STEP_MIN

    @property
    def suspensions(self) -> int:
        return sum(isinstance(seen.event, Suspended) for seen in self.events)


def run(
    rig: Rig,
    grav: Gravimetry,
    patient: VirtualPatient,
    programme: Programme,
    minutes: int,
    jitter_s: float,
    rng: np.random.Generator,
    recording: CsvRecording,
    tag: tuple,
    auto: AutoSettings | None = None,
) -> LoopRecord:
    """One run of the loop: the pump programmed as the programme says (its boluses given at their minutes, on the
    rig clock), the patient stepped each minute, eating the programme's meals.

    Each CGM value is sent at its sample time plus a delay drawn uniformly from [0, jitter_s), with its trend over
    the values sampled before it (hil.analysis.cgm_trend, on the sample times). At the next sample instant the
    balance is read: the patient gets the measured total not yet given (evaporation added back; balance noise can
    make a gain negative, so never less than nothing), in equal parts over the interval's minutes. The pump's state
    is read at every CGM value; its events are taken at every reading. Every minute is written to the recording,
    its rows starting with tag (patient, scenario, arm). With `auto` settings the pump runs in auto mode from the
    start, its profile the programme's basal."""
    interval = int(patient.cgm_interval_min)
    if minutes % interval:
        raise BadLoopLength(f"a loop of {minutes} min is not a whole number of the CGM's {interval}-min samples")
    patient.scale_insulin_sensitivity(programme.insulin_sensitivity_factor)
    delivery.start_basal(rig, programme.basal_U_per_h)
    if auto is not None:
        rig.pump.configure_auto(auto)
        rig.pump.auto_mode(True)
    start = rig.clock.now()
    previous = rig.scale.read()
    first = delivery.mark(rig, previous)
    loop = _Loop(rig, grav, patient, programme, interval, recording, tag, start, previous, rig.pump.status().state)
    for m0 in range(0, minutes, interval):
        loop.send_interval(m0, m0 * STEP_S + rng.uniform(0.0, jitter_s))
        loop.weigh_interval(m0)
    loop.last_interval()
    record = loop.record
    commanded = programme.basal_U_per_h * minutes / 60.0 + sum(u for _, u in record.user_boluses)
    record.record = delivery.record_span(grav, first, delivery.mark(rig, loop.previous), commanded)
    if auto is not None:
        rig.pump.auto_mode(False)
    end_run(rig, record)
    return record


@dataclass
class _Loop:
    """The loop's state from one CGM interval to the next. The last interval's patient is lived while the rig's time
    runs to the next CGM value, and written down while it runs to the next reading: the emulator steps while the
    harness works (hil.rig.clock, meanwhile)."""

    rig: Rig
    grav: Gravimetry
    patient: VirtualPatient
    programme: Programme
    interval: int
    recording: CsvRecording
    tag: tuple
    start: float
    previous: Reading  # the last balance reading
    state: PumpState  # the pump's state as last known
    record: LoopRecord = field(default_factory=LoopRecord)
    measured: float = 0.0  # U weighed since the start
    given: float = 0.0  # U of it given to the patient
    sampled_s: list[float] = field(default_factory=list)  # the last CGM sample times and values (for the trend)
    sampled: list[float] = field(default_factory=list)
    received: list[tuple[float, float]] = field(default_factory=list)  # (middle minute, U net of basal) given
    live: Callable[[], None] | None = None
    write_down: Callable[[], None] | None = None

    def send_interval(self, m0: int, cgm_at_s: float) -> None:
        """The interval's user boluses and its CGM value (sent cgm_at_s after the start), in the order of their rig
        times (a bolus at the sample minute goes first: the value arrives after its sample instant)."""
        actions: list[tuple[float, int | None]] = [
            (m * STEP_S, m)
            for m in range(m0, m0 + self.interval)
            if self.programme.bolus_at(m) or self.programme.counted_at(m)
        ]
        actions.append((cgm_at_s, None))
        for at_s, bolus_minute in sorted(actions, key=lambda action: action[0]):
            self.rig.clock.sleep_until(self.start + at_s, meanwhile=self.live)
            self.live = None
            if bolus_minute is None:
                self._send_cgm(m0)
            elif amount := self._user_bolus(bolus_minute):
                self.rig.pump.bolus(amount)
                self.record.user_boluses.append((bolus_minute, amount))

    def _send_cgm(self, m0: int) -> None:
        value = self.patient.cgm()
        self.sampled_s = [*self.sampled_s[-cgm_trend.MAX_VALUES + 1 :], m0 * STEP_S]
        self.sampled = [*self.sampled[-cgm_trend.MAX_VALUES + 1 :], value]
        trend = cgm_trend.trend(self.sampled_s, self.sampled)
        self.rig.pump.cgm_input(value, trend)
        self.state = _followed(self.rig.pump.events(), self.record, self.state, self.rig.clock.now())
        self.record.cgm_minute.append((self.rig.clock.now() - self.start) / 60.0)
        self.record.cgm.append(value)
        self.record.cgm_trend.append(trend)

    def _user_bolus(self, m: int) -> float:
        """The user's bolus at minute m: the programme's set amount, plus its counted meal through the calculator,
        with the last CGM value the pump got and the insulin on board from what the patient received."""
        amount = self.programme.bolus_at(m)
        if (counted := self.programme.counted_at(m)) and self.programme.calculator is not None:
            on_board = sum(u * float(remaining_share(m - mid)) for mid, u in self.received if m - mid < DURATION_MIN)
            amount += self.programme.calculator.dose(counted, self.sampled[-1] if self.sampled else None, on_board)
        return amount

    def weigh_interval(self, m0: int) -> None:
        """At the interval's end: the balance read; the insulin weighed since the last reading goes to the patient
        over the interval's minutes (lived and written down while the rig runs on); the pump's events taken."""
        self.rig.clock.sleep_until(self.start + (m0 + self.interval) * STEP_S, meanwhile=self.write_down)
        reading = self.rig.scale.read()
        previous, self.previous = self.previous, reading
        self.measured += float(self.grav.difference_units(previous.t, previous.mass_mg, reading.t, reading.mass_mg))
        dose = max(0.0, self.measured - self.given)
        self.given += dose
        self.received.append((m0 + self.interval / 2, dose - self.programme.basal_U_per_h * self.interval / 60.0))
        self.live, self.write_down = self._interval_done(m0, self.record.cgm[-1], dose, self.state, reading)
        self.state = _followed(self.rig.pump.events(), self.record, self.state, reading.t)

    def last_interval(self) -> None:
        if self.live is not None and self.write_down is not None:
            self.live()
            self.write_down()

    def _interval_done(
        self, m0: int, value: float, dose: float, state: PumpState, reading: Reading
    ) -> tuple[Callable[[], None], Callable[[], None]]:
        """The patient through one interval, with its weighed insulin (needed before the next CGM value), and the
        interval written down minute by minute (needed by nobody until the end)."""
        glucose: list[float] = []
        minutes = range(m0, m0 + self.interval)

        def live() -> None:
            for m in minutes:
                self.patient.step(dose / self.interval, self.programme.carbs_at(m))
                glucose.append(self.patient.glucose_mg_dl)

        def write_down() -> None:
            for i, m in enumerate(minutes):
                self.record.minute.append(m + 1)
                self.record.glucose.append(glucose[i])
                self.record.insulin_U.append(dose / self.interval)
                self.record.state.append(state)
                self.recording.append(
                    *self.tag,
                    f"{self.start + (m + 1) * STEP_S:.3f}",
                    m + 1,
                    f"{glucose[i]:.2f}",
                    f"{value:.2f}" if i == 0 else "",
                    f"{dose / self.interval:.5f}",
                    f"{self.programme.carbs_at(m):g}",
                    state,
                    f"{reading.mass_mg:.5f}" if i == self.interval - 1 else "",
                )

        return live, write_down


def _followed(events: list[PumpEvent], record: LoopRecord, state: PumpState, seen_s: float) -> PumpState:
    """The pump's state after its events (its automatic suspensions and resumptions), each written down."""
    for event in events:
        record.events.append(Seen(event, seen_s))
        if isinstance(event, Suspended):
            state = PumpState.AUTO_SUSPENDED
        elif isinstance(event, Resumed):
            state = PumpState.RUNNING
    return state


def end_run(rig: Rig, record: LoopRecord) -> None:
    """Stop the pump, acknowledge the run's alarms as the user would afterwards, and wait out the pump's CGM trend
    window before the next run."""
    rig.pump.stop()
    for seen in record.events:
        if isinstance(seen.event, Alarm):
            rig.pump.acknowledge(seen.event.alarm_id)
    rig.clock.sleep(PAUSE_BETWEEN_RUNS_S)
