"""Dose-limit procedures: a dose commanded above the pump's maximum bolus or maximum basal rate, and what reached the
balance after it. A pump may refuse such a command or cut the dose to its limit; either way the procedure weighs
what came, and says what the pump answered. Each ends on delivery the pump records (a bolus at the maximum, an hour
of the basal at it), so the balance is shown to see the pump after the commands above the limits too."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import DoseLimits
from hil.errors import DeviceRefused, RigError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.procedures.gravimetric import Gravimetry
from hil.rig.rig import Rig

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["phase", "t_s", "mass_mg", "pump_delivered_U"]


class LimitsNotTaken(AssertionError):
    """The pump confirmed other dose limits than the ones set (a finding about the pump)."""


@dataclass(frozen=True)
class Answer:
    """What the pump answered a command above a limit: accepted, or refused with its code."""

    command: str
    refused: DeviceRefused | None
    returned: float | None = None  # what the driver's call returned (a bolus's nominal duration, s)

    @property
    def accepted(self) -> bool:
        return self.refused is None

    @property
    def short(self) -> str:
        return f"{self.command} ({'accepted' if self.accepted else 'refused'})"

    def describe(self) -> str:
        return f"{self.command}: " + ("accepted" if self.refused is None else f"refused ({self.refused})")


@dataclass(frozen=True)
class Weighed:
    """What reached the balance between two marks, U, with its expanded uncertainty."""

    amount_U: float
    U: float


@dataclass(frozen=True)
class LimitRun:
    limits: DoseLimits  # as the pump confirmed them
    answers: list[Answer]
    above: list[Weighed]  # after each command above a limit
    record: RecordSpan  # from the first command above a limit to the end


def _answer(command: str, send: Callable[[], float | None]) -> Answer:
    try:
        returned = send()
    except DeviceRefused as exc:
        return Answer(command, exc)
    return Answer(command, None, returned)


def _mark(rig: Rig, raw: CsvRecording, phase: str, settled: bool = False) -> Mark:
    mark = delivery.settled_mark(rig) if settled else delivery.mark(rig)
    raw.append(phase, f"{mark.t:.3f}", f"{mark.mass_mg:.5f}", f"{mark.recorded_U:.3f}")
    return mark


def _weighed(grav: Gravimetry, first: Mark, last: Mark) -> Weighed:
    return Weighed(*grav.weighed(first.t, first.mass_mg, last.t, last.mass_mg))


@contextmanager
def limits_set(
    rig: Rig, max_bolus_U: float | None = None, max_basal_U_per_h: float | None = None
) -> Iterator[DoseLimits]:
    """For the block, the limits given set (the other as the pump has it) and shown taken (LimitsNotTaken
    otherwise); the limits read before put back after it, however it ends: a bench pump keeps them, and a pump whose
    claims state no largest bolus or rate is not set back by the starting state."""
    before = rig.pump.dose_limits()
    limits = DoseLimits(
        before.max_bolus_U if max_bolus_U is None else max_bolus_U,
        before.max_basal_U_per_h if max_basal_U_per_h is None else max_basal_U_per_h,
    )
    try:
        confirmed = rig.pump.configure_limits(limits)
        if confirmed != limits:
            raise LimitsNotTaken(f"pump: the limits {limits} set, {confirmed} confirmed")
        yield confirmed
    except BaseException:
        try:  # delivery stopped first (a bolus may still run), and no rate in use above the limits put back
            rig.pump.stop()
            rig.pump.set_basal(0.0)
            back = rig.pump.configure_limits(before)
        except (RigError, DeviceRefused) as exc:  # the exception that ended the block is what the caller must see
            log.warning("dose limits not put back to %s: %s", before, exc)
        else:
            if back != before:
                log.warning("dose limits %s put back as %s", before, back)
        raise
    back = rig.pump.configure_limits(before)
    if back != before:
        raise LimitsNotTaken(f"pump: the limits found, {before}, put back and {back} confirmed")


def bolus_above_limit(
    rig: Rig, grav: Gravimetry, max_bolus_U: float, above_U: float, observe_s: float, settle_s: float, raw: CsvRecording
) -> tuple[LimitRun, Weighed]:
    """The maximum bolus set; from a stable reading, a bolus of `above_U` commanded and what reaches the balance weighed
    from the command to its end (a bolus accepted is waited for to its end, however long the pump takes, as
    delivery.wait_until_idle waits; never cancelled before it is weighed), and for at least `observe_s`; then a bolus
    at the maximum, weighed to its end (returned beside the run). The basal is 0 U/h (the starting state)
    throughout."""
    with limits_set(rig, max_bolus_U=max_bolus_U) as confirmed:
        rig.pump.resume()
        first = _mark(rig, raw, "before the bolus above the maximum")
        answer = _answer(f"bolus of {above_U:g} U", lambda: rig.pump.bolus(above_U))
        if answer.accepted:
            nominal = float(answer.returned or 0.0)
            delivery.wait_until_idle(rig, nominal, f"bolus of {above_U:g} U above the maximum, accepted")
        rig.clock.sleep_until(first.t + observe_s)
        rig.clock.sleep(settle_s)
        after = _mark(rig, raw, "after its observation", settled=True)
        at_limit = rig.pump.bolus(confirmed.max_bolus_U)
        delivery.wait_until_idle(rig, at_limit, f"bolus at the maximum, {confirmed.max_bolus_U:g} U")
        rig.clock.sleep(settle_s)
        end = _mark(rig, raw, "after the bolus at the maximum", settled=True)
        rig.pump.stop()
    commanded = confirmed.max_bolus_U + (above_U if answer.accepted else 0.0)
    run = LimitRun(
        confirmed, [answer], [_weighed(grav, first, after)], delivery.record_span(grav, first, end, commanded)
    )
    return run, _weighed(grav, after, end)


def rates_above_limit(
    rig: Rig, grav: Gravimetry, max_basal_U_per_h: float, above_U_per_h: float, observe_s: float, raw: CsvRecording
) -> LimitRun:
    """The maximum basal rate set and a basal at it running; then a temporary basal and a programmed basal of
    `above_U_per_h`, one after the other, what reaches the balance weighed over `observe_s` after each (a temporary
    basal accepted is cancelled after its observation). The basal at the maximum runs under both where the pump
    refuses or cuts the rates above it: delivery the pump records."""
    with limits_set(rig, max_basal_U_per_h=max_basal_U_per_h) as confirmed:
        rig.pump.set_basal(confirmed.max_basal_U_per_h)
        rig.pump.resume()
        rig.clock.sleep(observe_s)  # the basal at the maximum under way, its first stroke come
        first = _mark(rig, raw, "before the temporary basal above the maximum")
        minutes = max(1, round(observe_s / 60.0))
        temp = _answer(
            f"temporary basal of {above_U_per_h:g} U/h for {minutes} min",
            lambda: rig.pump.set_temp_basal(above_U_per_h, minutes),
        )
        rig.clock.sleep(observe_s)
        after_temp = _mark(rig, raw, "after the temporary basal's observation")
        if temp.accepted:
            rig.pump.set_temp_basal(0.0, 0)
        programmed = _answer(f"basal of {above_U_per_h:g} U/h", lambda: rig.pump.set_basal(above_U_per_h))
        second = _mark(rig, raw, "before the programmed basal's observation")
        rig.clock.sleep(observe_s)
        end = _mark(rig, raw, "after the programmed basal's observation", settled=True)
        rig.pump.stop()
        rig.pump.set_basal(0.0)  # the starting state's: the limits put back may not be below the programmed rate
    accepted_U_per_h = [above_U_per_h if a.accepted else confirmed.max_basal_U_per_h for a in (temp, programmed)]
    commanded = sum(accepted_U_per_h) * observe_s / 3600.0
    return LimitRun(
        confirmed,
        [temp, programmed],
        [_weighed(grav, first, after_temp), _weighed(grav, second, end)],
        delivery.record_span(grav, first, end, commanded),
    )
