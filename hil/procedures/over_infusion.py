"""Over-infusion under a single fault: a basal running, a fault injected through the pump maker's verification build
(a runaway motor), what reaches the balance weighed against what was commanded, and the pump's alarm seen as it
comes. The fault is cleared, the alarm acknowledged and the pump stopped however the procedure ends; it ends on a
bolus the pump records, weighed, so the balance is shown to see the pump after the fault too."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import Alarm, InjectedFault, Seen
from hil.errors import DeviceRefused, RigError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.procedures.gravimetric import Gravimetry
from hil.rig.clock import poll_until
from hil.rig.rig import Rig

log = logging.getLogger(__name__)

RECORDING_COLUMNS = ["t_s", "mass_mg", "pump_delivered_U", "pump_state", "phase"]


@dataclass
class FaultRun:
    """What a fault episode recorded: the polls, the alarms seen, and the marks."""

    t_s: list[float] = field(default_factory=list)
    mass_mg: list[float] = field(default_factory=list)
    alarms: list[Seen[Alarm]] = field(default_factory=list)
    injected_s: float = 0.0  # rig time of the injection
    first: Mark | None = None  # settled, right before the injection
    after: Mark | None = None  # settled, after the observation
    end: Mark | None = None  # settled, after the closing bolus


@contextmanager
def fault_injected(rig: Rig, fault: InjectedFault) -> Iterator[None]:
    """For the block, `fault` injected; cleared after it however it ends, and the pump stopped (on an error, what
    ended the block is what the caller sees)."""
    rig.pump.inject_fault(fault)
    try:
        yield
    except BaseException:
        try:
            rig.pump.inject_fault(None)
            rig.pump.stop()
        except (RigError, DeviceRefused) as exc:
            log.warning("the injected fault not cleared: %s", exc)
        raise
    rig.pump.inject_fault(None)
    rig.pump.stop()


def _poll(rig: Rig, run: FaultRun, raw: CsvRecording, phase: str) -> list[Seen[Alarm]]:
    reading = rig.scale.read()
    status = rig.pump.status()
    run.t_s.append(reading.t)
    run.mass_mg.append(reading.mass_mg)
    raw.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", f"{status.delivered_U:.3f}", status.state, phase)
    new = [Seen(e, reading.t) for e in rig.pump.events() if isinstance(e, Alarm)]
    run.alarms.extend(new)
    return new


def runaway_episode(
    rig: Rig,
    rate_U_per_h: float,
    flow_s: float,
    observe_s: float,
    closing_bolus_U: float,
    poll_s: float,
    raw: CsvRecording,
) -> FaultRun:
    """From the prepared pump: a basal of `rate_U_per_h` for `flow_s`; a runaway motor injected and polled for
    `observe_s`; the fault cleared, the pump stopped, its alarms acknowledged, a settled mark; then a bolus of
    `closing_bolus_U` to its end, and a settled mark."""
    run = FaultRun()
    delivery.start_basal(rig, rate_U_per_h)
    rig.clock.sleep(flow_s)
    run.first = delivery.settled_mark(rig)  # every basal stroke counted so far arrived: none taken for the fault's
    with fault_injected(rig, InjectedFault.RUNAWAY_MOTOR):
        run.injected_s = rig.clock.now()
        poll_until(rig.clock, lambda: _poll(rig, run, raw, "runaway injected"), run.injected_s + observe_s, poll_s)
    run.after = delivery.settled_mark(rig)
    for seen in run.alarms:
        rig.pump.acknowledge(seen.event.alarm_id)
    rig.pump.set_basal(0.0)
    rig.pump.resume()
    delivery.wait_until_idle(rig, rig.pump.bolus(closing_bolus_U), f"closing bolus of {closing_bolus_U:g} U")
    run.end = delivery.settled_mark(rig)
    rig.pump.stop()
    return run


def stopped_s(run: FaultRun) -> float:
    """When the pump was seen stopped by its alarm (the first alarm's poll), or the observation's end."""
    assert run.after is not None
    return min((seen.seen_s for seen in run.alarms), default=run.after.t)


def closing_span(grav: Gravimetry, run: FaultRun, closing_bolus_U: float) -> RecordSpan:
    assert run.after is not None and run.end is not None
    return delivery.record_span(grav, run.after, run.end, closing_bolus_U)
