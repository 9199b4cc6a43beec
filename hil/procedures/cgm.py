"""The CGM feed: a scenario's sensor values sent to the pump on the rig clock (over the pump's own link,
serial or CAN), each with its trend as a CGM reports it (hil.analysis.cgm_trend), with the pump's state and the
balance polled between values and written to the recording."""

import math
from dataclasses import dataclass, field

import numpy as np
import yaml

from hil import project
from hil.analysis import cgm_noise, cgm_trend
from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import Alarm, AlarmKind, PumpEvent, PumpState, Resumed, Seen, Suspended, seen_as
from hil.evidence.recording import CsvRecording
from hil.procedures.gravimetric import Gravimetry
from hil.rig.clock import poll_until
from hil.rig.rig import Rig

SCENARIOS = project.reference("scenarios")
RECORDING_COLUMNS = ["t_s", "glucose_mg_dl", "trend_mg_dl_min", "pump_state", "mass_mg"]


@dataclass(frozen=True)
class Scenario:
    name: str
    interval_s: float
    values: list  # mg/dL as sent, None for a missing value
    description: str = ""
    true_values: list | None = None  # the noise-free glucose of a noisy scenario (None: the values are it)
    noise_seed: int | None = None

    @property
    def truth(self) -> list:
        """The noise-free glucose: what the harness chooses judged windows from, never what it judges the pump on."""
        return self.values if self.true_values is None else self.true_values


def load_scenario(name: str) -> Scenario:
    """A scenario file: `values` (mg/dL, null for a missing value) sent as they are, or, with `noise: {seed: N}`,
    the noise-free glucose to which the sensor's error (hil.analysis.cgm_noise) is added, the same for one seed."""
    read = read_scenario(name)
    if read.noise_seed is None:
        return Scenario(name, read.interval_min * 60.0, read.values, read.description)
    sent = cgm_noise.noisy(read.values, read.interval_min, read.noise_seed)
    return Scenario(name, read.interval_min * 60.0, sent, read.description, read.values, read.noise_seed)


@dataclass(frozen=True)
class ScenarioFile:
    interval_min: float
    values: list  # mg/dL, None for a missing value: noise-free when noise_seed is set
    description: str
    noise_seed: int | None


def read_scenario(name: str) -> ScenarioFile:
    """A scenario file read and checked, its noise not drawn: what the requirements' check before a run reads
    (hil.procedures.scenario_files), as drawing the noise takes scipy's interpolation, most of a small campaign's
    start-up."""
    path = SCENARIOS / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    interval_min, values = data["interval_min"], list(data["values"])
    if not (_number(interval_min) and interval_min > 0):
        raise ValueError(f"{path}: interval_min is the minutes between values, a number above 0, not {interval_min!r}")
    if not all(v is None or _number(v) for v in values):
        raise ValueError(f"{path}: values are glucose in mg/dL (numbers) or null for a missing value")
    noise = data.get("noise")
    if noise is None:
        return ScenarioFile(interval_min, values, data.get("description", ""), None)
    seed = noise.get("seed") if isinstance(noise, dict) and set(noise) == {"seed"} else None
    if type(seed) is not int or not 0 <= seed < 2**32:
        raise ValueError(f"{path}: noise takes one integer seed from 0 to 2**32 - 1 ({{seed: N}}), not {noise!r}")
    if interval_min > cgm_noise.BLOCK * cgm_noise.MODEL_STEP_MIN:
        raise ValueError(
            f"{path}: the sensor noise model takes values at most {cgm_noise.BLOCK * cgm_noise.MODEL_STEP_MIN:g} min"
            f" apart (its interpolation block), not {interval_min:g}"
        )
    return ScenarioFile(interval_min, values, data.get("description", ""), seed)


def _number(value: object) -> bool:
    """A finite int or float (a boolean is none)."""
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


@dataclass
class FeedRecord:
    value_t_s: list[float] = field(default_factory=list)  # when each scenario value was due (sent or not)
    value_pump_t_s: list[float | None] = field(default_factory=list)  # the pump's clock when a value was sent
    trend: list[float | None] = field(default_factory=list)  # the trend sent with each value (mg/dL/min)
    t_s: list[float] = field(default_factory=list)  # polls
    state: list[PumpState] = field(default_factory=list)
    mass_mg: list[float] = field(default_factory=list)
    recorded_U: list[float] = field(default_factory=list)  # the pump's count of what it delivered (STATUS `delivered`)
    events: list[Seen[PumpEvent]] = field(default_factory=list)

    @property
    def suspensions(self) -> int:
        return sum(isinstance(seen.event, Suspended) for seen in self.events)

    @property
    def first_suspension(self) -> Seen[Suspended] | None:
        return next((seen for seen in self.events if seen_as(seen, Suspended)), None)

    @property
    def first_resumption(self) -> Seen[Resumed] | None:
        return next((seen for seen in self.events if seen_as(seen, Resumed)), None)

    def value_index_at(self, t_s: float) -> int:
        """Index of the last scenario value due at or before rig time t_s."""
        return int(np.searchsorted(np.asarray(self.value_t_s), t_s + 1e-6)) - 1

    def first_alarm(self, kind: AlarmKind) -> Seen[Alarm] | None:
        return next((seen for seen in self.events if seen_as(seen, Alarm) and seen.event.kind is kind), None)


def record_span(grav: Gravimetry, record: FeedRecord, rate_U_per_h: float) -> RecordSpan:
    """The scenario from its first poll to its last: what the balance weighed against what the pump counted (its
    count read at each poll, just before the balance), a pump that counts nothing held to rate_U_per_h."""
    t, mass, recorded = record.t_s, record.mass_mg, record.recorded_U
    weighed, U = grav.weighed(t[0], mass[0], t[-1], mass[-1])
    return RecordSpan(weighed, U, recorded[-1] - recorded[0], rate_U_per_h * (t[-1] - t[0]) / 3600.0)


def feed(
    rig: Rig,
    scenario: Scenario,
    poll_s: float,
    recording: CsvRecording,
    tail_s: float = 0.0,
    ages_s: list | None = None,
) -> FeedRecord:
    """Send each value at its time with its trend (a None sends nothing), polling the pump and the balance every
    poll_s; then keep polling for tail_s after the last value. ages_s: each value sent as taken that long before
    (a stale value); without it the values go as the sensor's newest."""
    record = FeedRecord()
    start = rig.clock.now()
    trends = cgm_trend.trends([k * scenario.interval_s for k in range(len(scenario.values))], scenario.values)
    for k, (glucose, trend) in enumerate(zip(scenario.values, trends, strict=True)):
        due = start + k * scenario.interval_s
        rig.clock.sleep_until(due)
        record.value_t_s.append(due)
        record.trend.append(trend)
        if glucose is not None:
            if trend is None:  # a value has its trend (hil.analysis.cgm_trend.trends): else a defect of the suite
                raise TypeError(f"no trend computed for the CGM value {glucose} at {due:g} s")
            rig.pump.cgm_input(glucose, trend, *(() if ages_s is None else (ages_s[k],)))
        record.value_pump_t_s.append(None if glucose is None else rig.pump.pump_time())
        _poll_until(rig, due + scenario.interval_s, poll_s, glucose, trend, recording, record)
    _poll_until(rig, rig.clock.now() + tail_s, poll_s, None, None, recording, record)
    return record


def _poll_until(
    rig: Rig,
    end_s: float,
    poll_s: float,
    glucose: float | None,
    trend: float | None,
    recording: CsvRecording,
    record: FeedRecord,
) -> None:
    def poll() -> None:
        status = rig.pump.status()
        reading = rig.scale.read()
        record.events += [Seen(event, reading.t) for event in rig.pump.events()]
        record.t_s.append(reading.t)
        record.state.append(status.state)
        record.mass_mg.append(reading.mass_mg)
        record.recorded_U.append(status.delivered_U)
        recording.append(
            f"{reading.t:.3f}",
            "" if glucose is None else f"{glucose:g}",
            "" if trend is None else f"{trend:.1f}",
            status.state,
            f"{reading.mass_mg:.5f}",
        )

    poll_until(rig.clock, poll, end_s, poll_s)
