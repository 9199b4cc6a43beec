"""Bench procedures for gravimetric delivery tests, written once against the rig's clock and drivers.

Each waits on the rig clock with a deadline; none knows whether the rig is a bench or the emulator.
"""

import logging
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from hil.analysis.coupling import CouplingCheck
from hil.analysis.dose_metrics import RecordSpan
from hil.drivers.contracts import AsksAhead, BolusState, Reading, Refusal, Scale
from hil.errors import BalanceNotCoupled, InstrumentRefused, InstrumentUnstable, RigError
from hil.evidence.recording import CsvRecording
from hil.procedures.gravimetric import Gravimetry
from hil.rig.rig import Rig

log = logging.getLogger(__name__)
# Samples of a recording asked for before the first is taken, in lockstep: one wait for them all. The emulator holds
# them in its pty (a few hundred bytes) and the harness keeps them until the last is taken; 64 brings the wait per
# sample to a sixty-fourth, the rest being the two sides' own work (benchmarks/bench_simulation.py).
ASK_AHEAD = 64


class ProcedureTimeout(AssertionError):
    """The device under test did not reach the expected state in time (a finding about the pump)."""


@dataclass(frozen=True)
class Series:
    t_s: np.ndarray  # rig clock, s
    mass_mg: np.ndarray
    stable: np.ndarray


def wait_until_idle(rig: Rig, nominal_s: float, what: str, max_factor: float | None = None) -> None:
    """Wait out a bolus or prime: its nominal duration, then until the pump reports it idle: within 20 % of the
    nominal duration + 30 s, or, with max_factor (a spec case's `max_duration_factor`), until max_factor times
    the nominal duration + 30 s, so a slow bolus is measured by the requirement that judges its speed instead of
    stopping every other measurement."""
    rig.clock.sleep(nominal_s)
    margin = (0.2 if max_factor is None else max_factor - 1.0) * nominal_s + 30.0
    if not rig.clock.wait_for(lambda: rig.pump.status().bolus is BolusState.IDLE, timeout=margin, poll=1.0):
        raise ProcedureTimeout(f"{what}: pump still delivering {margin:.0f} s after its nominal {nominal_s:.0f} s")


def stable_reading(rig: Rig, timeout_s: float = 120.0, poll_s: float = 1.0) -> Reading:
    """The next stable balance reading (S), retried on the rig clock while the balance is not stable; a balance
    that does not settle within timeout_s is a rig fault (InstrumentUnstable)."""
    result = []

    def attempt() -> bool:
        try:
            reading = rig.scale.read_stable()
        except InstrumentRefused as exc:
            if exc.code is not Refusal.BUSY:
                raise
            return False
        if not reading.stable:  # a driver that let a dynamic reading through: never weigh with it
            log.warning("scale returned a dynamic reading (%.5f mg) as stable: retrying", reading.mass_mg)
            return False
        result.append(reading)
        return True

    if not rig.clock.wait_for(attempt, timeout=timeout_s, poll=poll_s):
        raise InstrumentUnstable(f"balance not stable within {timeout_s:g} s")
    return result[-1]


@dataclass(frozen=True)
class Mark:
    """A balance reading and the pump's count of what it delivered (STATUS `delivered`) read right after it: between
    two marks the balance and the pump's record cover the same interval."""

    t: float
    mass_mg: float
    recorded_U: float


def mark(rig: Rig, reading: Reading | None = None) -> Mark:
    """A mark at `reading` (default: the next stable reading) and the pump's count read after it."""
    reading = reading or stable_reading(rig)
    return Mark(reading.t, reading.mass_mg, rig.pump.status().delivered_U)


def settled_mark(rig: Rig, tries: int = 5) -> Mark:
    """A mark at which everything the pump has counted has arrived: its count, the rig file's settle_s for the line
    and the drops, a stable reading, and its count again, taken anew while a stroke came in between (a stroke still
    in the line as the balance read would be recorded and not weighed). After `tries` the last one, with that
    stroke, is taken: delivery too fast to catch between strokes, one stroke's error."""
    for _ in range(tries):
        counted = rig.pump.status().delivered_U
        rig.clock.sleep(rig.config.infusion_set.settle_s)
        reading = stable_reading(rig)
        last = mark(rig, reading)
        if last.recorded_U == counted:
            break
    return last


def record_span(grav: Gravimetry, first: Mark, last: Mark, commanded_U: float) -> RecordSpan:
    """What the balance weighed and what the pump recorded between two marks (docs/bench.md, "The balance must see
    the pump")."""
    weighed, U = grav.weighed(first.t, first.mass_mg, last.t, last.mass_mg)
    return RecordSpan(weighed, U, last.recorded_U - first.recorded_U, commanded_U)


def prime(rig: Rig, amount_U: float, settle_s: float) -> None:
    """Fill the line and take up plunger slack, then let the drops settle."""
    rig.pump.stop()
    wait_until_idle(rig, rig.pump.prime(amount_U), "prime")
    rig.clock.sleep(settle_s)


def prepare(rig: Rig) -> None:
    """Prime the infusion set as the rig file states, show the balance sees the pump (a weighed check delivery,
    hil.procedures.coupling), then tare the balance."""
    infusion_set = rig.config.infusion_set
    prime(rig, infusion_set.prime_U, infusion_set.settle_s)
    check_coupling(rig)
    tare(rig)


def check_coupling(rig: Rig) -> CouplingCheck:
    """Prime the rig file's check delivery between two stable readings, the pump stopped before and after;
    BalanceNotCoupled (a rig fault) when the balance cannot be shown to see it (hil.analysis.coupling)."""
    infusion_set = rig.config.infusion_set
    amount_U = infusion_set.check_U or infusion_set.prime_U
    rig.pump.stop()
    before = stable_reading(rig)
    wait_until_idle(rig, rig.pump.prime(amount_U), "coupling check prime")
    rig.clock.sleep(infusion_set.settle_s)
    after = stable_reading(rig)
    grav = Gravimetry(rig.config)
    weighed, U = grav.weighed(before.t, before.mass_mg, after.t, after.mass_mg)
    result = CouplingCheck(amount_U, weighed, U, before.mass_mg, after.mass_mg, grav.readability_mg)
    problem = result.problem(infusion_set.check_seen_min_pct)
    if problem:
        raise BalanceNotCoupled(f"coupling check: {problem}")
    return result


def tare(rig: Rig, timeout_s: float = 120.0) -> float:
    stable_reading(rig, timeout_s)
    return rig.scale.tare()


def start_basal(rig: Rig, rate_U_per_h: float) -> float:
    """Resume delivery at a constant basal rate; returns the rig time it was commanded."""
    rig.pump.resume()
    rig.pump.set_basal(rate_U_per_h)
    return rig.clock.now()


def record(rig: Rig, start_s: float, duration_s: float, interval_s: float, recording: CsvRecording) -> Series:
    """Sample the balance at start_s + k·interval on the rig clock, k = 0..duration/interval, writing each
    sample to the recording as it is taken (`sample_at`)."""
    count = int(round(duration_s / interval_s)) + 1
    readings = sample_at(rig, [start_s + k * interval_s for k in range(count)], recording, "recording", count)
    return Series(
        np.array([r.t for r in readings]),
        np.array([r.mass_mg for r in readings]),
        np.array([r.stable for r in readings], dtype=bool),
    )


def sample_at(rig: Rig, times: list[float], recording: CsvRecording, what: str, of: int | None = None) -> list[Reading]:
    """The balance read at each of `times` on the rig clock, each sample written to the recording as it is taken;
    a RigError names the sample it stopped at (of `of`, when the recording's length is known) and what was kept.

    In lockstep, with a scale that can be asked ahead (AsksAhead), the samples are asked for ASK_AHEAD at a time:
    one wait for the window instead of two a sample (hil.rig.clock.SimClock.pipelined), the same readings at the
    same times, each shown to be its own reply before it is written (the driver's markers)."""
    scale = rig.scale
    window = ASK_AHEAD if isinstance(scale, AsksAhead) and rig.clock.pipelines else 1
    readings: list[Reading] = []
    with rig.clock.pipelined() if window > 1 else nullcontext():
        for first in range(0, len(times), window):
            try:
                for reading in _asked_ahead(rig, scale, times[first : first + window]):
                    recording.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", int(reading.stable))
                    readings.append(reading)
            except RigError as exc:
                which = f"sample {len(readings) + 1}" + ("" if of is None else f"/{of}")
                exc.add_note(f"{what} stopped at {which}; the {len(readings)} taken are kept in {recording.path}")
                raise
    return readings


def _asked_ahead(rig: Rig, scale: Scale, times: list[float]) -> Iterator[Reading]:
    """Readings at each of `times`, as they are taken: asked for all before any is taken where the scale can be
    asked ahead."""
    if len(times) == 1 or not isinstance(scale, AsksAhead):
        for at in times:
            rig.clock.sleep_until(at)
            yield scale.read()
        return
    for at in times:
        rig.clock.sleep_until(at)
        scale.ask_reading()
    for _ in times:
        yield scale.take_reading()


BOLUS_COLUMNS = ["bolus", "t_before_s", "mass_before_mg", "t_after_s", "mass_after_mg", "pump_before_U", "pump_after_U"]


def deliver_boluses(
    rig: Rig, amount_U: float, count: int, settle_s: float, recording: CsvRecording, max_factor: float | None = None
) -> np.ndarray:
    """Deliver `count` boluses one after another, weighing each between stable readings and reading, next to
    each weighing, what the pump says it has delivered (STATUS `delivered`).

    Returns rows (t_before, mass_before_mg, t_after, mass_after_mg, pump_before_U, pump_after_U), also written
    to the recording (BOLUS_COLUMNS). max_factor: as in wait_until_idle."""
    rows = np.empty((count, 6))
    for i in range(count):
        before = stable_reading(rig)
        pump_before = rig.pump.status().delivered_U
        wait_until_idle(rig, rig.pump.bolus(amount_U), f"bolus {i + 1}/{count}", max_factor)
        rig.clock.sleep(settle_s)
        after = stable_reading(rig)
        pump_after = rig.pump.status().delivered_U
        rows[i] = before.t, before.mass_mg, after.t, after.mass_mg, pump_before, pump_after
        recording.append(
            i + 1,
            f"{before.t:.3f}",
            f"{before.mass_mg:.5f}",
            f"{after.t:.3f}",
            f"{after.mass_mg:.5f}",
            f"{pump_before:.3f}",
            f"{pump_after:.3f}",
        )
    return rows


def record_bolus(
    rig: Rig,
    commanded_s: float,
    nominal_s: float,
    settle_s: float,
    interval_s: float,
    max_factor: float,
    recording: CsvRecording,
) -> tuple[Series, float | None]:
    """Sample the balance every interval_s from a bolus command until settle_s after the pump reports the bolus
    finished (STATUS `bolus` IDLE, asked at every sample from the nominal end on), for at most max_factor times
    the nominal duration: a slow bolus is recorded to its end, so its delivery time can be measured.

    Returns the series and the rig time the pump was first seen idle (None: still delivering at the limit; the
    bolus is then cancelled)."""
    limit_s = commanded_s + max_factor * nominal_s
    # Until the nominal end nothing is asked of the pump: those samples are taken as a recording's are.
    k = 0
    while commanded_s + k * interval_s < commanded_s + nominal_s and commanded_s + k * interval_s <= limit_s:
        k += 1
    fixed = sample_at(rig, [commanded_s + i * interval_s for i in range(k)], recording, "bolus recording")
    t, mass, stable = [r.t for r in fixed], [r.mass_mg for r in fixed], [r.stable for r in fixed]
    idle_at: float | None = None
    while True:
        due = commanded_s + k * interval_s
        if idle_at is not None and due > idle_at + settle_s:
            break
        if idle_at is None and due > limit_s:
            rig.pump.cancel_bolus()
            log.warning(
                "bolus still delivering %.0f s after its command (%.1f × nominal): cancelled",
                limit_s - commanded_s,
                max_factor,
            )
            break
        rig.clock.sleep_until(due)
        try:
            reading = rig.scale.read()
        except RigError as exc:
            exc.add_note(f"bolus recording stopped at sample {k + 1}; the {k} taken are kept in {recording.path}")
            raise
        t.append(reading.t)
        mass.append(reading.mass_mg)
        stable.append(reading.stable)
        recording.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", int(reading.stable))
        if idle_at is None and due >= commanded_s + nominal_s and rig.pump.status().bolus is BolusState.IDLE:
            idle_at = due
        k += 1
    return Series(np.array(t), np.array(mass), np.array(stable, dtype=bool)), idle_at
