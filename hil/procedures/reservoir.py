"""Reservoir procedures: a reservoir of a stated fill fitted (the rig's reservoir fixture) and run to its end at a
basal rate, weighed, with the pump's low-reservoir alert and empty alarm seen as they come. Every poll is written to
the recording; a full reservoir is fitted after, however the procedure ends, and the balance shown to see the pump
again."""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import Alarm, AlarmKind, ReservoirFixture, Seen
from hil.errors import DeviceRefused, ReservoirNotFitted, RigError, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery, starting_state
from hil.procedures.delivery import Mark
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.starting_state import RESERVOIR_MARGIN_U
from hil.rig.clock import poll_until
from hil.rig.rig import Rig

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["t_s", "mass_mg", "pump_delivered_U", "pump_reservoir_U", "pump_state", "phase"]
RESERVOIR_ALARMS = (AlarmKind.RESERVOIR_LOW, AlarmKind.RESERVOIR_EMPTY)


class AlertNotTaken(AssertionError):
    """The pump confirmed another low-reservoir alert than the one set (a finding about the pump)."""


@dataclass
class Drain:
    """What a reservoir run to its end recorded: the polls, the pump's alarms as seen, and the marks."""

    t_s: list[float] = field(default_factory=list)
    mass_mg: list[float] = field(default_factory=list)
    recorded_U: list[float] = field(default_factory=list)
    alarms: list[Seen[Alarm]] = field(default_factory=list)  # the reservoir alarms after the basal's start
    others: list[Seen[Alarm]] = field(default_factory=list)  # before it (acknowledged), and every other kind
    start: Mark | None = None  # the basal commanded
    at_alert: Mark | None = None  # the poll that brought the low-reservoir alert
    at_alarm: Mark | None = None  # the poll that brought the empty alarm, or the one at the end of the wait for it
    end: Mark | None = None  # settled, after the hold

    def first(self, kind: AlarmKind) -> Seen[Alarm] | None:
        return next((seen for seen in self.alarms if seen.event.kind is kind), None)


def available_U(rig: Rig, fill_U: float, alert_U: float = 0.0) -> float:
    """What a fitted reservoir of `fill_U` holds for the basal once the rig file's prime and coupling check are taken
    from it; StartingStateError unless that is above `alert_U` by the starting state's margin (a rig whose prime
    would leave the test nothing to measure)."""
    infusion_set = rig.config.infusion_set
    left = fill_U - infusion_set.prime_U - (infusion_set.check_U or infusion_set.prime_U)
    if left <= alert_U + RESERVOIR_MARGIN_U:
        raise StartingStateError(
            f"a {fill_U:g} U reservoir less the rig file's prime and coupling check leaves {left:g} U, not "
            f"{RESERVOIR_MARGIN_U:g} U above the {alert_U:g} U the test measures from (infusion_set.prime_U, check_U)"
        )
    return left


def fit_tolerance_U(fill_U: float) -> float:
    """[judgement] How far a pump's count of a reservoir just fitted may be from the fill asked for: 5 % or 1 U,
    whichever is more (a count is the pump's own estimate of its fill; a bench weighs its fill to better)."""
    return max(1.0, 0.05 * fill_U)


@contextmanager
def reservoir_fitted(rig: Rig, fixture: ReservoirFixture, fill_U: float) -> Iterator[None]:
    """For the block, a reservoir of `fill_U` fitted (the pump stopped first) and shown counted by the pump
    (ReservoirNotFitted, the rig's, otherwise); after it, the pump stopped and a full reservoir fitted, however the
    block ends (on an error, what ended it is what the caller sees), then primed, the balance shown to see the pump
    (BalanceNotCoupled otherwise: a balance that stopped seeing the pump during the run weighed nothing after the
    alert or the alarm) and tared."""
    rig.pump.stop()
    fixture.fit(fill_U)
    try:
        counted = rig.pump.status().reservoir_U
        if not (math.isfinite(counted) and abs(counted - fill_U) <= fit_tolerance_U(fill_U)):
            raise ReservoirNotFitted(
                f"reservoir fixture: a {fill_U:g} U reservoir fitted, and the pump counts {counted:g} U in it"
            )
        yield
    except BaseException:
        for step in (rig.pump.stop, fixture.restore):
            try:
                step()
            except (RigError, DeviceRefused) as exc:
                log.warning("after the reservoir test, %s: %s", step.__name__, exc)
        raise
    try:
        rig.pump.stop()
    finally:
        fixture.restore()
    starting_state.acknowledge_alarms(rig.pump)  # the old reservoir's alarms, which a foreign pump may keep
    delivery.prepare(rig)


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
        self.last: Mark | None = None  # the latest poll's reading and the pump's count, when it was stable
        self.stable: Mark | None = None  # the latest stable poll's

    def poll(self, phase: str, counted: bool = True) -> list[Seen[Alarm]]:
        """One row: a balance reading and the pump's status; the reservoir alarms this poll brought (`counted`
        False: kept with the others, as come before the basal)."""
        reading = self.rig.scale.read()
        status = self.rig.pump.status()
        d = self.drain
        self.last = Mark(reading.t, reading.mass_mg, status.delivered_U) if reading.stable else None
        self.stable = self.last or self.stable
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
        seen = [Seen(e, reading.t) for e in self.rig.pump.events() if isinstance(e, Alarm)]
        new = [s for s in seen if counted and s.event.kind in RESERVOIR_ALARMS]
        d.alarms.extend(new)
        d.others.extend(s for s in seen if s not in new)
        return new

    def here(self) -> Mark:
        """The latest poll's reading as a mark when it was stable, else the next stable reading's (a dynamic reading
        is never weighed)."""
        return self.last or delivery.mark(self.rig)

    def await_alarm(
        self, kind: AlarmKind, timeout_s: float, poll_s: float, phase: str, earlier: bool = False
    ) -> Mark | None:
        """A mark at the poll that brought the first alarm of `kind` after the basal's start, or None when none came
        within the timeout. Each way leans against the pump: for what must come after the alarm (`earlier` False),
        `here` (the alarm may have come up to `poll_s` before it); for what must not (`earlier`), the latest stable
        poll at or before it (delivery just before the alarm counted as after it)."""
        if self.drain.first(kind) is None:
            end_s = self.rig.clock.now() + timeout_s

            def came(_: object) -> bool:  # whether this poll brought it
                return self.drain.first(kind) is not None

            poll_until(self.rig.clock, lambda: self.poll(phase), end_s, poll_s, until=came)
        if self.drain.first(kind) is None:
            return None
        return (self.stable or self.here()) if earlier else self.here()


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
    low-reservoir alert waited for `alert_timeout_s` (None: not waited for); the empty alarm waited for
    `alarm_timeout_s` (from the alert, or from the start); then `hold_s` more, and a settled mark. The pump is stopped
    at the end. A low-reservoir alert that came before the basal (a reservoir fitted below its amount) is
    acknowledged, as its user would, and is not the alert the test waits for."""
    drain = Drain()
    poller = DrainPoller(rig, raw, drain)
    drain.start = delivery.mark(rig)
    poller.poll("before the basal", counted=False)
    for seen in drain.others:
        if seen.event.kind is AlarmKind.RESERVOIR_LOW:
            rig.pump.acknowledge(seen.event.alarm_id)
    delivery.start_basal(rig, rate_U_per_h)
    if alert_timeout_s is not None:
        drain.at_alert = poller.await_alarm(AlarmKind.RESERVOIR_LOW, alert_timeout_s, poll_s, "to the alert")
    drain.at_alarm = poller.await_alarm(
        AlarmKind.RESERVOIR_EMPTY, alarm_timeout_s, poll_s, "to the empty alarm", earlier=True
    )
    if drain.at_alarm is None:  # none came: the wait's end stands for it
        poller.poll("the wait for the empty alarm over")
        drain.at_alarm = poller.here()
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
