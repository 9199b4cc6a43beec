"""Reservoir procedures: a reservoir of a stated fill fitted (the rig's reservoir fixture) and run to its end at a
basal rate, weighed, with the pump's low-reservoir alert and empty alarm seen as they come. Every poll is written to
the recording; a full reservoir is fitted after, however the procedure ends."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import Alarm, AlarmKind, ReservoirFixture, Seen
from hil.errors import DeviceRefused, RigError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.procedures.gravimetric import Gravimetry
from hil.rig.clock import poll_until
from hil.rig.rig import Rig

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["t_s", "mass_mg", "pump_delivered_U", "pump_reservoir_U", "pump_state", "phase"]
RESERVOIR_ALARMS = (AlarmKind.RESERVOIR_LOW, AlarmKind.RESERVOIR_EMPTY)


class AlertNotTaken(AssertionError):
    """The pump confirmed another low-reservoir alert than the one set (a finding about the pump)."""


@dataclass
class Drain:
    """What a reservoir run to its end recorded: the polls, the reservoir alarms as seen, and the marks."""

    t_s: list[float] = field(default_factory=list)
    mass_mg: list[float] = field(default_factory=list)
    recorded_U: list[float] = field(default_factory=list)
    alarms: list[Seen[Alarm]] = field(default_factory=list)
    start: Mark | None = None  # the basal commanded
    at_alert: Mark | None = None  # right after the low-reservoir alert was seen
    at_alarm: Mark | None = None  # right after the empty alarm was seen, or at the end of the wait for it
    end: Mark | None = None  # settled, after the hold

    def first(self, kind: AlarmKind) -> Seen[Alarm] | None:
        return next((seen for seen in self.alarms if seen.event.kind is kind), None)


@contextmanager
def reservoir_fitted(rig: Rig, fixture: ReservoirFixture, fill_U: float) -> Iterator[None]:
    """For the block, a reservoir of `fill_U` fitted (the pump stopped first); a full one fitted after it, the pump
    stopped, however the block ends (on an error, what ended it is what the caller sees)."""
    rig.pump.stop()
    fixture.fit(fill_U)
    try:
        yield
    except BaseException:
        try:
            rig.pump.stop()
            fixture.restore()
        except (RigError, DeviceRefused) as exc:
            log.warning("a full reservoir not fitted after the test: %s", exc)
        raise
    rig.pump.stop()
    fixture.restore()


@contextmanager
def alert_set(rig: Rig, amount_U: float) -> Iterator[float]:
    """For the block, the low-reservoir alert set to `amount_U` and shown taken (AlertNotTaken otherwise); the amount
    read before put back after it, however it ends."""
    before = rig.pump.reservoir_alert()
    try:
        confirmed = rig.pump.configure_reservoir_alert(amount_U)
        if abs(confirmed - amount_U) > 1e-6:
            raise AlertNotTaken(f"pump: the low-reservoir alert {amount_U:g} U set, {confirmed:g} U confirmed")
        yield confirmed
    except BaseException:
        try:
            rig.pump.configure_reservoir_alert(before)
        except (RigError, DeviceRefused) as exc:
            log.warning("the low-reservoir alert not put back to %g U: %s", before, exc)
        raise
    back = rig.pump.configure_reservoir_alert(before)
    if abs(back - before) > 1e-6:
        raise AlertNotTaken(f"pump: the low-reservoir alert found, {before:g} U, put back and {back:g} U confirmed")


class DrainPoller:
    def __init__(self, rig: Rig, raw: CsvRecording, drain: Drain):
        self.rig, self.raw, self.drain = rig, raw, drain

    def poll(self, phase: str) -> list[Seen[Alarm]]:
        """One row: a balance reading and the pump's status; the reservoir alarms this poll brought."""
        reading = self.rig.scale.read()
        status = self.rig.pump.status()
        d = self.drain
        d.t_s.append(reading.t)
        d.mass_mg.append(reading.mass_mg)
        d.recorded_U.append(status.delivered_U)
        self.raw.append(
            f"{reading.t:.3f}",
            f"{reading.mass_mg:.5f}",
            f"{status.delivered_U:.3f}",
            f"{status.reservoir_U:.3f}",
            status.state,
            phase,
        )
        new = [
            Seen(e, reading.t)
            for e in self.rig.pump.events()
            if isinstance(e, Alarm) and e.kind in RESERVOIR_ALARMS and e.alarm_id not in self._ids()
        ]
        d.alarms.extend(new)
        return new

    def _ids(self) -> set[str]:
        return {seen.event.alarm_id for seen in self.drain.alarms}

    def await_alarm(self, kind: AlarmKind, timeout_s: float, poll_s: float, phase: str) -> Seen[Alarm] | None:
        """The first alarm of `kind` (seen now or before), or None when none came within the timeout."""
        if self.drain.first(kind) is None:
            end_s = self.rig.clock.now() + timeout_s

            def came(_: object) -> bool:  # whether this poll or an earlier one brought it
                return self.drain.first(kind) is not None

            poll_until(self.rig.clock, lambda: self.poll(phase), end_s, poll_s, until=came)
        return self.drain.first(kind)


def run_to_empty(
    rig: Rig,
    rate_U_per_h: float,
    alert_timeout_s: float | None,
    alarm_timeout_s: float,
    hold_s: float,
    poll_s: float,
    raw: CsvRecording,
) -> Drain:
    """From the prepared (primed, tared) fitted reservoir, a basal of `rate_U_per_h` run to the reservoir's end: the
    low-reservoir alert waited for `alert_timeout_s` (None: not waited for) and marked; the empty alarm waited for
    `alarm_timeout_s` (from the alert, or from the start) and marked (or the wait's end); then `hold_s` more, and a
    settled mark. The pump is stopped at the end. A low-reservoir alert that came before the basal (a reservoir
    fitted below its amount) is acknowledged, as its user would, and stands for the alert."""
    drain = Drain()
    poller = DrainPoller(rig, raw, drain)
    drain.start = delivery.mark(rig)
    for seen in poller.poll("before the basal"):  # a reservoir fitted below the alert's amount alerts at once
        if seen.event.kind is AlarmKind.RESERVOIR_LOW:
            rig.pump.acknowledge(seen.event.alarm_id)
    delivery.start_basal(rig, rate_U_per_h)
    if alert_timeout_s is not None:
        if poller.await_alarm(AlarmKind.RESERVOIR_LOW, alert_timeout_s, poll_s, "to the low-reservoir alert"):
            drain.at_alert = delivery.mark(rig)
    poller.await_alarm(AlarmKind.RESERVOIR_EMPTY, alarm_timeout_s, poll_s, "to the empty alarm")
    drain.at_alarm = delivery.mark(rig)
    poll_until(rig.clock, lambda: poller.poll("after the empty alarm"), rig.clock.now() + hold_s, poll_s)
    drain.end = delivery.settled_mark(rig)
    rig.pump.stop()
    return drain


def weighed(grav: Gravimetry, first: Mark, last: Mark) -> tuple[float, float]:
    """What reached the balance between two marks, U, and its expanded uncertainty."""
    return grav.weighed(first.t, first.mass_mg, last.t, last.mass_mg)


def record_span(grav: Gravimetry, drain: Drain, available_U: float) -> RecordSpan:
    """The whole run, weighed against the pump's record (`available_U`, what the fitted reservoir held after the
    prime, is what a pump that records nothing was asked to deliver)."""
    assert drain.start is not None and drain.end is not None
    return delivery.record_span(grav, drain.start, drain.end, available_U)
