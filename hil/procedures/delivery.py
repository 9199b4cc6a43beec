"""Bench procedures for gravimetric delivery tests, written once against the rig's clock and drivers.

Each waits on the rig clock with a deadline; none knows whether the rig is a bench or the emulator.
"""

import logging
from dataclasses import dataclass

import numpy as np

from hil.errors import InstrumentRefused, InstrumentUnstable, RigError
from hil.evidence.recording import CsvRecording

log = logging.getLogger(__name__)


class ProcedureTimeout(AssertionError):
    """The device under test did not reach the expected state in time (a finding about the pump)."""


@dataclass(frozen=True)
class Series:
    t_s: np.ndarray  # rig clock, s
    mass_mg: np.ndarray
    stable: np.ndarray


def wait_until_idle(rig, nominal_s: float, what: str) -> None:
    """Wait out a bolus or prime: its nominal duration, then until the pump reports it idle."""
    rig.clock.sleep(nominal_s)
    margin = 0.2 * nominal_s + 30.0
    if not rig.clock.wait_for(lambda: rig.pump.status().bolus == "IDLE", timeout=margin, poll=1.0):
        raise ProcedureTimeout(f"{what}: pump still delivering {margin:.0f} s after its nominal {nominal_s:.0f} s")


def stable_reading(rig, timeout_s: float = 120.0, poll_s: float = 1.0):
    """The next stable balance reading (S), retried on the rig clock while the balance is not stable; a balance
    that does not settle within timeout_s is a rig fault (InstrumentUnstable)."""
    result = []

    def attempt() -> bool:
        try:
            reading = rig.scale.read_stable()
        except InstrumentRefused as exc:
            if exc.code != "BUSY":
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


def prime(rig, amount_U: float, settle_s: float) -> None:
    """Fill the line and take up plunger slack, then let the drops settle."""
    rig.pump.stop()
    wait_until_idle(rig, rig.pump.prime(amount_U), "prime")
    rig.clock.sleep(settle_s)


def prepare(rig) -> None:
    """Prime the infusion set as the rig file states, then tare the balance."""
    infusion_set = rig.config.section("infusion_set")
    prime(rig, infusion_set["prime_U"], infusion_set.get("settle_s", 60))
    tare(rig)


def tare(rig, timeout_s: float = 120.0) -> float:
    stable_reading(rig, timeout_s)
    return rig.scale.tare()


def start_basal(rig, rate_U_per_h: float) -> float:
    """Resume delivery at a constant basal rate; returns the rig time it was commanded."""
    rig.pump.resume()
    rig.pump.set_basal(rate_U_per_h)
    return rig.clock.now()


def record(rig, start_s: float, duration_s: float, interval_s: float, recording: CsvRecording) -> Series:
    """Sample the balance at start_s + k·interval on the rig clock, k = 0..duration/interval, writing each
    sample to the recording as it is taken."""
    count = int(round(duration_s / interval_s)) + 1
    t = np.empty(count)
    mass = np.empty(count)
    stable = np.empty(count, dtype=bool)
    for k in range(count):
        rig.clock.sleep_until(start_s + k * interval_s)
        try:
            reading = rig.scale.read()
        except RigError as exc:
            exc.add_note(f"recording stopped at sample {k + 1}/{count}; the {k} taken are kept in {recording.path}")
            raise
        t[k], mass[k], stable[k] = reading.t, reading.mass_mg, reading.stable
        recording.append(f"{reading.t:.3f}", f"{reading.mass_mg:.5f}", int(reading.stable))
    return Series(t, mass, stable)


def deliver_boluses(rig, amount_U: float, count: int, settle_s: float, recording: CsvRecording) -> np.ndarray:
    """Deliver `count` boluses one after another, weighing each between stable readings.

    Returns rows (t_before, mass_before_mg, t_after, mass_after_mg), also written to the recording."""
    rows = np.empty((count, 4))
    for i in range(count):
        before = stable_reading(rig)
        wait_until_idle(rig, rig.pump.bolus(amount_U), f"bolus {i + 1}/{count}")
        rig.clock.sleep(settle_s)
        after = stable_reading(rig)
        rows[i] = before.t, before.mass_mg, after.t, after.mass_mg
        recording.append(i + 1, f"{before.t:.3f}", f"{before.mass_mg:.5f}", f"{after.t:.3f}", f"{after.mass_mg:.5f}")
    return rows
