"""Bench procedures for insertion-site faults: a new set, nominal basal while the pump learns the site, the
fault at a random moment of the basal cycle, then the pump's site alarms polled on the rig clock, with what
reached the site and what was lost weighed on their two balances. Every poll is written to the recording."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import Alarm, AlarmKind, Priority, Reading, Seen, SiteFixture
from hil.evidence.recording import CsvRecording
from hil.procedures.delivery import Mark, mark, prime, record_span, start_basal
from hil.procedures.gravimetric import Gravimetry
from hil.rig.clock import poll_until
from hil.rig.rig import Rig
from hil.specs.methods import SiteAlarm, SiteFalseAlarm, SiteFaultTrials

RECORDING_COLUMNS = ["trial", "t_s", "site_mg", "lost_mg", "pressure_kPa", "pump_state", "phase"]
SITE_ALARMS = (AlarmKind.CHECK_SITE, AlarmKind.OCCLUSION)


@dataclass
class Trial:
    number: int
    fault: str
    fault_s: float = math.nan  # rig time the fault was made
    alarm: Seen[Alarm] | None = None  # the first site alarm after the fault
    escalated: Seen[Alarm] | None = None  # the same alarm again at HIGH
    alarms_before_fault: list[Seen[Alarm]] = field(default_factory=list)
    delivered_U: float = math.nan  # reached the site while the fault lasted
    lost_U: float = math.nan  # went to the lost vessel meanwhile (NaN on a rig without a lost balance)
    U_delivered: float = math.nan  # their expanded uncertainties (k = 2)
    U_lost: float = math.nan
    record: RecordSpan | None = None  # the trial's delivery against the pump's record of it (detection_trial)

    @property
    def delay_min(self) -> float:
        return math.inf if self.alarm is None else (self.alarm.seen_s - self.fault_s) / 60.0


@dataclass
class Series:
    """Polled rows, for plots."""

    t_s: list[float] = field(default_factory=list)
    site_mg: list[float] = field(default_factory=list)
    lost_mg: list[float] = field(default_factory=list)
    pressure_kPa: list[float] = field(default_factory=list)


class SitePoller:
    def __init__(self, rig: Rig, recording: CsvRecording):
        self.rig, self.recording = rig, recording
        self.series: dict[int, Series] = {}

    def poll(self, trial: int, phase: str) -> list[Seen[Alarm]]:
        """One row (pump status, both balances); returns the site alarms that arrived. A low-reservoir alert is
        acknowledged as it comes, as its user clears it: the 12 nominal days take a full reservoir down to it, and
        an alert left standing would have the pump refuse the RESUME after a site alarm."""
        status = self.rig.pump.status()
        reading = self.rig.scale.read()
        lost = self.rig.lost_scale.read().mass_mg if self.rig.lost_scale else math.nan
        pressure = math.nan if status.pressure_kPa is None else status.pressure_kPa
        s = self.series.setdefault(trial, Series())
        s.t_s.append(reading.t)
        s.site_mg.append(reading.mass_mg)
        s.lost_mg.append(lost)
        s.pressure_kPa.append(pressure)
        self.recording.append(
            trial, f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", f"{lost:.5f}", f"{pressure:.2f}", status.state, phase
        )
        alarms = [e for e in self.rig.pump.events() if isinstance(e, Alarm)]
        for alert in (a for a in alarms if a.kind is AlarmKind.RESERVOIR_LOW):
            self.rig.pump.acknowledge(alert.alarm_id)
        return [Seen(e, reading.t) for e in alarms if e.kind in SITE_ALARMS]

    def watch(
        self,
        trial: int,
        duration_s: float,
        poll_s: float,
        phase: str,
        until: Callable[[Seen[Alarm]], bool] | None = None,
    ) -> list[Seen[Alarm]]:
        """Poll for duration_s, or until `until(alarm)` holds for an arriving alarm; returns the alarms seen."""
        polled = poll_until(
            self.rig.clock,
            lambda: self.poll(trial, phase),
            self.rig.clock.now() + duration_s,
            poll_s,
            until=None if until is None else lambda new: any(until(a) for a in new),
        )
        return [alarm for new in polled.seen for alarm in new]


def _acknowledge(rig: Rig, alarms: list[Seen[Alarm]]) -> None:
    for alarm_id in dict.fromkeys(a.event.alarm_id for a in alarms):
        rig.pump.acknowledge(alarm_id)


def make_fault(site: SiteFixture, case: SiteFaultTrials) -> None:
    if case.fault == "leak":
        if case.leak_fraction is None:  # the schema requires it of a leak
            raise TypeError("a leak case without its leak_fraction")
        site.leak(case.leak_fraction)
    else:
        site.dislodge()


def new_set(rig: Rig, rate_U_per_h: float) -> None:
    """Prime a new set into the (restored) site and start the basal: the pump learns the site afresh."""
    infusion_set = rig.config.section("infusion_set")
    prime(rig, infusion_set["prime_U"], infusion_set.get("settle_s", 60))
    start_basal(rig, rate_U_per_h)


def detection_trial(
    rig: Rig,
    site: SiteFixture,
    grav: Gravimetry,
    case: SiteFaultTrials,
    number: int,
    rng: np.random.Generator,
    poller: SitePoller,
) -> Trial:
    """One fault: baseline, the fault at a uniformly random moment of the phase window, the first site alarm
    within the detection time, then (when the case watches for it) its escalation, left unacknowledged."""
    trial = Trial(number, case.fault)
    rate = case.basal_rate_U_per_h
    new_set(rig, rate)
    start, lost_start = mark(rig, rig.scale.read()), _lost_reading(rig)
    trial.alarms_before_fault = poller.watch(
        number, case.baseline_h * 3600.0, case.baseline_poll_min * 60.0, "baseline"
    )
    _acknowledge(rig, trial.alarms_before_fault)  # a false alarm must not mask the real one
    rig.clock.sleep(rng.uniform(0.0, case.phase_window_min * 60.0))
    site_before = mark(rig, rig.scale.read())
    lost_before = _lost_reading(rig)
    # Without a lost balance what the fault loses is weighed nowhere: the baseline alone is held to the record.
    trial.record = record_span(grav, start, site_before, rate * (site_before.t - start.t) / 3600.0)
    seen: list[Seen[Alarm]] = []
    try:
        make_fault(site, case)
        trial.fault_s = rig.clock.now()
        seen = poller.watch(number, case.detect_within_min * 60.0, case.poll_s, "fault", until=lambda a: True)
        trial.alarm = seen[0] if seen else None
        if trial.alarm and isinstance(case, SiteAlarm) and case.escalation_watch_min:
            same = trial.alarm.event.alarm_id

            def escalated(a: Seen[Alarm]) -> bool:
                return a.event.alarm_id == same and a.event.priority is Priority.HIGH

            seen += poller.watch(
                number, case.escalation_watch_min * 60.0, case.poll_s, "fault, unacknowledged", until=escalated
            )
            trial.escalated = next((a for a in seen[1:] if escalated(a)), None)
        site_after = mark(rig, rig.scale.read())
        trial.delivered_U, trial.U_delivered = grav.weighed(
            site_before.t, site_before.mass_mg, site_after.t, site_after.mass_mg
        )
        if lost_before is not None and lost_start is not None and rig.lost_scale is not None:
            lost_after = rig.lost_scale.read()
            trial.lost_U, trial.U_lost = grav.weighed(
                lost_before.t, lost_before.mass_mg, lost_after.t, lost_after.mass_mg
            )
            trial.record = _both_balances(grav, start, site_after, lost_start, lost_after, rate)
    finally:
        site.restore()
        rig.pump.stop()
    _acknowledge(rig, seen)
    return trial


def nominal_days(
    rig: Rig, grav: Gravimetry, case: SiteFalseAlarm, poller: SitePoller
) -> tuple[list[Seen[Alarm]], float, list[RecordSpan]]:
    """Nominal basal for case.days, a new set every case.set_change_days; every site alarm is a false one,
    acknowledged (and the pump resumed) as a user would. Returns the alarms, the days observed and each set's
    delivery (its prime left out) against the pump's record of it."""
    alarms, observed_s, spans = [], 0.0, []
    total_s, set_s = case.days * 86400.0, case.set_change_days * 86400.0
    rate = case.basal_rate_U_per_h
    number = 0
    while observed_s < total_s - 1e-6:
        number += 1
        new_set(rig, rate)
        first = mark(rig, rig.scale.read())
        start = rig.clock.now()
        end = start + min(set_s, total_s - observed_s)
        while rig.clock.now() < end - 1e-6:
            new = poller.watch(number, end - rig.clock.now(), case.poll_s, "nominal", until=lambda a: True)
            alarms += new
            if new:
                _acknowledge(rig, new)
                start_basal(rig, rate)
        observed_s += rig.clock.now() - start
        last = mark(rig, rig.scale.read())
        spans.append(record_span(grav, first, last, rate * (last.t - first.t) / 3600.0))
        rig.pump.stop()
    return alarms, observed_s / 86400.0, spans


def _lost_reading(rig: Rig) -> Reading | None:
    """The lost balance's reading, None on a rig without one."""
    return rig.lost_scale.read() if rig.lost_scale else None


def _both_balances(
    grav: Gravimetry, start: Mark, end: Mark, lost_start: Reading, lost_end: Reading, rate_U_per_h: float
) -> RecordSpan:
    """A trial from its basal's start to its end against the pump's record: what reached the site and what the
    leak or the dislodged cannula sent to the lost vessel, together everything that left the line."""
    site = record_span(grav, start, end, rate_U_per_h * (end.t - start.t) / 3600.0)
    lost, U_lost = grav.weighed(lost_start.t, lost_start.mass_mg, lost_end.t, lost_end.mass_mg)
    return RecordSpan(site.weighed_U + lost, math.hypot(site.U_weighed_U, U_lost), site.recorded_U, site.commanded_U)


class KinkedCannula:
    """The site fixture's kink behind the occlusion valve's interface (close/open), so the occlusion
    procedures run a kink at the site as they run a block before the vessel."""

    def __init__(self, site: SiteFixture, factor: float):
        self.site, self.factor = site, factor

    def close(self) -> None:
        self.site.kink(self.factor)

    def open(self) -> None:
        self.site.restore()
