"""The closed loop through the rig: a virtual patient receives, minute by minute, the insulin the balance
measured leaving the pump, and its CGM goes back to the pump over the pump's own link. Written against the rig
clock and drivers only, so a bench runs it unchanged (the patient then runs in real time)."""

from dataclasses import dataclass, field

import numpy as np

from hil.analysis import cgm_trend
from hil.drivers.contracts import Alarm, PumpEvent, PumpState, Resumed, Seen, Suspended
from hil.evidence.recording import CsvRecording
from hil.patient.nights import NightPlan
from hil.patient.uva_padova import STEP_MIN, VirtualPatient
from hil.procedures import delivery

RECORDING_COLUMNS = [
    "patient",
    "night",
    "suspend",
    "t_s",
    "minute",
    "glucose_mg_dl",
    "cgm_mg_dl",
    "insulin_U",
    "pump_state",
    "mass_mg",
]
STEP_S = STEP_MIN * 60.0
# The pump's CGM trend uses values of the last 20 min (standards-and-clinical.md §5): between nights the pump
# waits longer than that, stopped, so no value of one night enters the next night's prediction.
PAUSE_BETWEEN_NIGHTS_S = 30 * 60.0


@dataclass
class NightRecord:
    minute: list[int] = field(default_factory=list)  # end of each model minute
    glucose: list[float] = field(default_factory=list)  # the patient's true (subcutaneous) glucose then
    insulin_U: list[float] = field(default_factory=list)  # what the patient received in that minute
    state: list[PumpState] = field(default_factory=list)  # the pump's state then
    cgm_minute: list[float] = field(default_factory=list)  # when each CGM value reached the pump
    cgm: list[float] = field(default_factory=list)
    cgm_trend: list[float] = field(default_factory=list)  # the trend sent with each value (mg/dL/min)
    events: list[Seen[PumpEvent]] = field(default_factory=list)

    @property
    def suspended_min(self) -> float:
        return float(sum(s is PumpState.AUTO_SUSPENDED for s in self.state)) * STEP_MIN

    @property
    def suspensions(self) -> int:
        return sum(isinstance(seen.event, Suspended) for seen in self.events)


def run_night(
    rig,
    grav,
    patient: VirtualPatient,
    plan: NightPlan,
    minutes: int,
    jitter_s: float,
    rng: np.random.Generator,
    recording: CsvRecording,
    tag: tuple,
) -> NightRecord:
    """One night: the pump programmed as the plan says, the patient stepped each minute on the rig clock.

    The insulin of minute m is what the balance gained over it (evaporation added back); balance noise can make
    a minute's gain negative, so the patient gets the measured total not yet given, never less than nothing.
    Each CGM value is sent at its sample time plus a delay drawn uniformly from [0, jitter_s), with its trend
    over the values sampled before it (hil.analysis.cgm_trend, on the sample times). The pump's state
    is read at every CGM value and followed between them by its SUSPEND/RESUME events (a status per minute would
    double the loop's traffic). Every minute is written to the recording, its rows starting with tag (patient,
    night, arm)."""
    record = NightRecord()
    patient.scale_insulin_sensitivity(plan.insulin_sensitivity_factor)
    delivery.start_basal(rig, plan.basal_U_per_h)
    if plan.bolus_U:
        rig.pump.bolus(plan.bolus_U)
    start = rig.clock.now()
    previous = rig.scale.read()
    measured = given = 0.0
    interval = patient.cgm_interval_min
    sampled_s, sampled = [], []  # the night's CGM values and their sample times
    state = rig.pump.status().state
    for m in range(minutes):
        if m % interval == 0:
            value = patient.cgm()
            sampled_s.append(m * STEP_S)
            sampled.append(value)
            trend = cgm_trend.trend(sampled_s, sampled)
            rig.clock.sleep_until(start + m * STEP_S + rng.uniform(0.0, jitter_s))
            rig.pump.cgm_input(value, trend)
            state = rig.pump.status().state
            record.cgm_minute.append((rig.clock.now() - start) / 60.0)
            record.cgm.append(value)
            record.cgm_trend.append(trend)
        rig.clock.sleep_until(start + (m + 1) * STEP_S)
        reading = rig.scale.read()
        measured += float(grav.difference_units(previous.t, previous.mass_mg, reading.t, reading.mass_mg))
        previous = reading
        dose = max(0.0, measured - given)
        given += dose
        patient.step(dose)
        for event in rig.pump.events():
            record.events.append(Seen(event, reading.t))
            if isinstance(event, Suspended):
                state = PumpState.AUTO_SUSPENDED
            elif isinstance(event, Resumed):
                state = PumpState.RUNNING
        record.minute.append(m + 1)
        record.glucose.append(patient.glucose_mg_dl)
        record.insulin_U.append(dose)
        record.state.append(state)
        recording.append(
            *tag,
            f"{reading.t:.3f}",
            m + 1,
            f"{patient.glucose_mg_dl:.2f}",
            f"{record.cgm[-1]:.2f}" if m % interval == 0 else "",
            f"{dose:.5f}",
            state,
            f"{reading.mass_mg:.5f}",
        )
    end_night(rig, record)
    return record


def end_night(rig, record: NightRecord) -> None:
    """Stop the pump, acknowledge the night's alarms as the user would in the morning, and wait out the pump's
    CGM trend window before the next night."""
    rig.pump.stop()
    for seen in record.events:
        if isinstance(seen.event, Alarm):
            rig.pump.acknowledge(seen.event.alarm_id)
    rig.clock.sleep(PAUSE_BETWEEN_NIGHTS_S)
