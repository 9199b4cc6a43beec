"""Bench procedures for occlusion tests (IEC 60601-2-24:2012 occlusion clause;
docs/references.md, "Occlusion detection"): let flow become constant, block the outlet, wait for the alarm on the
rig clock, hold, unblock and collect the released bolus, then watch for further strokes. Every poll is written to
the recording."""

import math
from dataclasses import dataclass, field

import numpy as np

from hil.analysis import occlusion
from hil.analysis.dose_metrics import RecordSpan
from hil.analysis.metric import Metric, Metrics
from hil.drivers.contracts import Alarm, AlarmKind, OcclusionValve, Priority, Reading, Seen
from hil.errors import BlockNotHeld, InstrumentUnstable
from hil.evidence.recording import CsvRecording
from hil.procedures.delivery import Mark, mark, record_span, settled_mark, stable_reading, start_basal
from hil.procedures.gravimetric import Gravimetry
from hil.rig.clock import poll_until
from hil.rig.rig import Rig

RECORDING_COLUMNS = ["t_s", "mass_mg", "pressure_kPa", "pump_state", "phase"]
# [judgement] A blocked outlet passes nothing: what the line held when it closed stays behind the valve. A leak that
# keeps a pressure-threshold detector from alarming must pass all the pump delivers beyond what the line stores at
# the threshold (2.5 U on the reference line): at least a third of it over the waits the occlusion cases allow
# (at least 1.5 times the longest claimed time to the alarm). So when, beyond the weighing's expanded uncertainty,
# more than a tenth of what the pump counted or was commanded reached the balance, the outlet was not blocked (a
# valve that acknowledged without closing, a seat that leaks) and the episode says nothing of the pump.
UNBLOCKED_SHARE = 0.10


@dataclass
class Timeline:
    """What an occlusion episode recorded: polled rows and the rig times of its steps."""

    t_s: list[float] = field(default_factory=list)
    mass_mg: list[float] = field(default_factory=list)
    pressure_kPa: list[float] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # rig time of block, alarm, open, ...
    alarms: list[Seen[Alarm]] = field(default_factory=list)  # the occlusion alarms

    def arrays(self):
        return np.array(self.t_s), np.array(self.mass_mg), np.array(self.pressure_kPa)


class OcclusionPoller:
    def __init__(self, rig: Rig, recording: CsvRecording, timeline: Timeline):
        self.rig, self.recording, self.timeline = rig, recording, timeline

    def poll(self, phase: str) -> bool:
        """One row: pump status, balance reading, and any occlusion alarm events; True if one arrived."""
        status = self.rig.pump.status()
        reading = self.rig.scale.read()
        pressure = math.nan if status.pressure_kPa is None else status.pressure_kPa
        tl = self.timeline
        tl.t_s.append(reading.t)
        tl.mass_mg.append(reading.mass_mg)
        tl.pressure_kPa.append(pressure)
        tl.phase.append(phase)
        self.recording.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", f"{pressure:.1f}", status.state, phase)
        new = [
            Seen(e, reading.t) for e in self.rig.pump.events() if isinstance(e, Alarm) and e.kind is AlarmKind.OCCLUSION
        ]
        tl.alarms.extend(new)
        return bool(new)

    def watch(self, duration_s: float, poll_s: float, phase: str) -> None:
        """Poll for a fixed time; alarms are collected, not awaited."""
        poll_until(self.rig.clock, lambda: self.poll(phase), self.rig.clock.now() + duration_s, poll_s)

    def await_alarm(self, timeout_s: float, poll_s: float, phase: str) -> Seen[Alarm] | None:
        """The first occlusion alarm, or None when none came within the timeout."""
        end_s = self.rig.clock.now() + timeout_s
        if poll_until(self.rig.clock, lambda: self.poll(phase), end_s, poll_s, until=bool).met:
            return self.timeline.alarms[0]
        return None


def release(rig: Rig, valve: OcclusionValve, window_s: float, timeline: Timeline):
    """Unblock the outlet and weigh what arrives within the window: (before, after) stable readings."""
    before = stable_reading(rig)
    valve.open()
    timeline.marks["open"] = rig.clock.now()
    rig.clock.sleep(window_s)
    return before, stable_reading(rig)


def basal_flow(rig: Rig, rate_U_per_h: float, flow_s: float, backoff: bool) -> None:
    """Basal delivery into the open outlet until the flow is constant."""
    rig.pump.set_occlusion_backoff(backoff)
    start_basal(rig, rate_U_per_h)
    rig.clock.sleep(flow_s)


def open_flow(rig: Rig, grav: Gravimetry, rate_U_per_h: float, flow_s: float, backoff: bool) -> tuple[Mark, RecordSpan]:
    """basal_flow between two marks: the settled one a block starts from (its reading's t and mass_mg), and the
    flow into the open outlet weighed against the pump's record of it. The test's only span over which the two
    must agree: from the block on, strokes go into the line, the back-off draws them back, and the pump reports
    neither (docs/bench.md)."""
    start = mark(rig)
    basal_flow(rig, rate_U_per_h, flow_s, backoff)
    end = settled_mark(rig)
    return end, record_span(grav, start, end, rate_U_per_h * (end.t - start.t) / 3600.0)


@dataclass(frozen=True)
class SinceBlock:
    """What the pump counted and the balance weighed from the block to the alarm (or to the end of the wait)."""

    pumped_U: float
    arrived_U: float
    U: float  # expanded uncertainty of arrived_U


def since_block(
    rig: Rig, grav: Gravimetry, pump_t_block: float, at_block: Reading, alarm: Seen[Alarm] | None
) -> SinceBlock:
    try:
        now = stable_reading(rig)
    except InstrumentUnstable:  # a pump that goes on pushing keeps the pan moving: take it as it is
        now = rig.scale.read()
    pumped = rig.pump.history_since(pump_t_block)[1]
    if alarm is not None:
        pumped -= rig.pump.history_since(alarm.event.raised_s + 1e-3)[1]
    arrived, U = grav.weighed(at_block.t, at_block.mass_mg, now.t, now.mass_mg)
    return SinceBlock(pumped, arrived, U)


def confirm_block(since: SinceBlock, commanded_U: float) -> None:
    """BlockNotHeld (the rig's) when the balance shows, beyond its uncertainty, that the outlet was not blocked.
    Where the weighing cannot tell (hours at the minimum rate, whose evaporation correction alone is uncertain by
    more than the share), the block is taken as held: the episode is judged as before the check."""
    allowed = UNBLOCKED_SHARE * max(since.pumped_U, commanded_U)
    if since.arrived_U - since.U > allowed:
        raise BlockNotHeld(
            f"the outlet was not blocked: the balance weighed {since.arrived_U:.3f} ± {since.U:.3f} U since the "
            f"occlusion valve closed, the pump counted {since.pumped_U:.3f} U and was commanded {commanded_U:.3f} U "
            f"(a blocked outlet passes at most {UNBLOCKED_SHARE:.0%})"
        )


def alarm_metrics(poll_s: float, t_block: float, alarm: Seen[Alarm] | None, since: SinceBlock | None) -> Metrics:
    """Metrics of the moment of the alarm: time, missed insulin (from `since`, measured at the alarm), priority,
    pressure."""
    if alarm is None or since is None:
        nan = math.nan
        return {
            "time_to_alarm": Metric(math.inf, "min", 0.0),
            "missed_at_alarm": Metric(nan, "U", 0.0),
            "alarm_priority_high": Metric(0.0, "bool", 0.0),
            "pressure_at_alarm": Metric(nan, "kPa", 0.0),
        }
    metrics = {
        "time_to_alarm": Metric(occlusion.time_to_alarm_min(t_block, alarm.seen_s), "min", poll_s / 60.0),
        # the pump's count is exact
        "missed_at_alarm": Metric(occlusion.missed_U(since.pumped_U, since.arrived_U), "U", since.U),
        "alarm_priority_high": Metric(float(alarm.event.priority is Priority.HIGH), "bool", 0.0),
    }
    if alarm.event.pressure_kPa is not None:
        metrics["pressure_at_alarm"] = Metric(alarm.event.pressure_kPa, "kPa", 0.0)
    return metrics
