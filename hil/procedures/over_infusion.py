"""Over-infusion under a single fault: a basal running, a fault injected through the pump maker's verification build
(a runaway motor), what reaches the balance weighed against what was commanded, and the pump's alarms after the
injection seen as they come. The pump is stopped and the fault cleared however the procedure ends (signals held
meanwhile); it ends on a bolus the pump records, weighed, so the balance is shown to see the pump after the fault
too (a pump that will not deliver after it leaves that unshown: never a pass)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import Alarm, InjectedFault, PumpState, Seen
from hil.errors import DeviceRefused, RigError, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery, starting_state
from hil.procedures.delivery import Mark
from hil.procedures.gravimetric import Gravimetry
from hil.rig import abort
from hil.rig.clock import poll_until
from hil.rig.rig import Rig

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["t_s", "mass_mg", "pump_delivered_U", "pump_state", "phase"]


class FaultNotInjected(Exception):
    """The pump refused the injection, or its hook says the fault is not acting: not a verification build, or a hook
    that does nothing. The requirement is not verified on this pump (the test is skipped with this reason)."""


@dataclass
class FaultRun:
    """What a fault episode recorded: the polls, the alarms seen, and the marks."""

    t_s: list[float] = field(default_factory=list)
    mass_mg: list[float] = field(default_factory=list)
    alarms: list[Seen[Alarm]] = field(default_factory=list)  # after the injection
    before: list[Seen[Alarm]] = field(default_factory=list)  # from the test's start to the injection: not the fault's
    injected_s: float = 0.0  # rig time of the injection
    stopped_s: float | None = None  # the first poll that found the pump not RUNNING
    observed_s: float = 0.0  # rig time the observation ended (the harness's STOP follows)
    first: Mark | None = None  # settled, right before the injection
    after: Mark | None = None  # settled, after the observation
    end: Mark | None = None  # settled, after the closing bolus; None when the pump would not deliver it
    closing_refused: str = ""  # why the closing bolus was not delivered


class FaultNotCleared(RigError):
    """After the test, the pump could not be shown stopped with no injected fault acting."""


def _clear(rig: Rig) -> list[str]:
    """The pump stopped, then the fault cleared, each tried whatever the other did; what went wrong, if anything."""
    problems = []
    with abort.signals.shielded():
        try:
            rig.pump.stop()
        except (RigError, DeviceRefused) as exc:
            problems.append(f"STOP failed: {exc}")
        try:
            acting = rig.pump.inject_fault(None)
        except (RigError, DeviceRefused) as exc:
            problems.append(f"clearing the injected fault failed: {exc}")
        else:
            if acting is not None:
                problems.append(f"the pump's hook says {acting} still acts after it was cleared")
    for problem in problems:
        log.error("after the injected fault, %s", problem)
    return problems


@contextmanager
def fault_injected(rig: Rig, fault: InjectedFault) -> Iterator[None]:
    """For the block, `fault` injected and shown acting (FaultNotInjected otherwise); the pump stopped and the fault
    cleared after it, however it ends. Ended without an error, a stop or a clear that failed is FaultNotCleared (the
    rig's: the test goes no further on a pump that may still be running away); ended by one, that error is what the
    caller sees."""
    try:
        try:
            acting = rig.pump.inject_fault(fault)
        except DeviceRefused as exc:
            raise FaultNotInjected(
                f"the pump refused the injection of {fault} ({exc}): not a verification build?"
            ) from None
        if acting is not fault:
            raise FaultNotInjected(f"the pump's hook says {acting or 'no fault'} is acting after {fault} was injected")
        yield
    except BaseException:
        _clear(rig)
        raise
    problems = _clear(rig)
    if problems:
        raise FaultNotCleared("; ".join(problems))


def _poll(rig: Rig, run: FaultRun, raw: CsvRecording, phase: str) -> None:
    reading = rig.scale.read()
    status = rig.pump.status()
    run.t_s.append(reading.t)
    run.mass_mg.append(reading.mass_mg)
    raw.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", f"{status.delivered_U:.3f}", status.state, phase)
    run.alarms += [Seen(e, reading.t) for e in rig.pump.events() if isinstance(e, Alarm)]
    if run.stopped_s is None and status.state is not PumpState.RUNNING:
        run.stopped_s = reading.t


def runaway_episode(
    rig: Rig,
    rate_U_per_h: float,
    flow_s: float,
    observe_s: float,
    closing_bolus_U: float,
    poll_s: float,
    raw: CsvRecording,
) -> FaultRun:
    """From the prepared pump: a basal of `rate_U_per_h` for `flow_s`; the alarms so far set aside, a settled mark, a
    runaway motor injected and polled for `observe_s`; the pump stopped, the fault cleared, its alarms acknowledged,
    a settled mark; then a bolus of `closing_bolus_U` to its end, and a settled mark."""
    run = FaultRun()
    starting_state.acknowledge_alarms(rig.pump)  # an alert the prime raised (a low reservoir) would refuse RESUME
    delivery.start_basal(rig, rate_U_per_h)
    rig.clock.sleep(flow_s)
    run.first = delivery.settled_mark(rig)  # every basal stroke counted so far arrived: none taken for the fault's
    run.before = [Seen(e, run.first.t) for e in rig.pump.events() if isinstance(e, Alarm)]
    with fault_injected(rig, InjectedFault.RUNAWAY_MOTOR):
        run.injected_s = rig.clock.now()
        poll_until(rig.clock, lambda: _poll(rig, run, raw, "runaway injected"), run.injected_s + observe_s, poll_s)
        run.observed_s = rig.clock.now()
    run.after = delivery.settled_mark(rig)
    run.alarms += [Seen(e, run.after.t) for e in rig.pump.events() if isinstance(e, Alarm)]
    try:
        starting_state.acknowledge_alarms(rig.pump)
        rig.pump.set_basal(0.0)
        rig.pump.resume()
        delivery.wait_until_idle(rig, rig.pump.bolus(closing_bolus_U), f"closing bolus of {closing_bolus_U:g} U")
    except (DeviceRefused, StartingStateError, delivery.ProcedureTimeout) as exc:  # out of service after a fault
        run.closing_refused = str(exc)
    else:
        run.end = delivery.settled_mark(rig)
    rig.pump.stop()
    return run


def commanded_U(run: FaultRun, rate_U_per_h: float) -> float:
    """The basal the pump was commanded from the mark before the injection until it was seen stopped (or the
    observation's end), as whole strokes it recorded where fewer: delivery owed to the basal, not the fault."""
    assert run.first is not None and run.after is not None
    until = min(run.observed_s, run.after.t if run.stopped_s is None else run.stopped_s)
    return min(rate_U_per_h * max(0.0, until - run.first.t) / 3600.0, run.after.recorded_U - run.first.recorded_U)


def closing_span(grav: Gravimetry, run: FaultRun, closing_bolus_U: float) -> RecordSpan | None:
    """The closing bolus weighed against the pump's record; None when the pump would not deliver it."""
    assert run.after is not None
    return None if run.end is None else delivery.record_span(grav, run.after, run.end, closing_bolus_U)
