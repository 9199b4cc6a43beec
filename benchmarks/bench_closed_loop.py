"""Overhead of the hardware-in-the-loop closed loop: the same virtual-patient nights stepped alone (ideal delivery,
hil.patient.alone) and closed through the emulated rig (hil.procedures.closed_loop: at every CGM value a step of
the rig clock to its arrival, the value to the pump, a step to the next sample instant and a balance read, over the
real ptys), in one process, one after the other, per night, in ROUNDS rounds. Suspend off in both, so the insulin
programmes are the same.

Two baselines. The ideal one gives the model the programme as a continuous rate. The replayed one gives it, minute
by minute, the doses the loop gave it: what the balance weighed. The loop's cost over the replayed doses is the
harness's alone (rig clock, balance, pump link), whatever a pulsed input costs the model's ODE solver. The
overhead is the loop's total time over the baseline's total (per-night ratios of 0.2-s nights scatter by ±20 % on
this 2-core VM).

The floor of any loop through the rig: each CGM value depends on the weighing just before it (the balance read,
the patient stepped on it, its CGM value to the pump), so every CGM interval waits for at least one round trip to
the emulator. A bare pyserial round trip to the emulated balance (write SI, read the reply; after the nights, as
bench_simulation.py measures it) per interval, on top of the model alone, is what no harness can go below.

It also measures what weighing once per CGM interval costs in glucose: the ideal programme given minute by minute
against the same insulin spread evenly over each interval, as the loop gives it.

Then the auto-mode days of AID-EFFECT-001..003 (each patient's day open loop and in auto mode, the user's bolus
calculator in the loop), against the model alone on the loop's own doses and meals replayed.

    .venv/bin/python benchmarks/bench_closed_loop.py
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np
from bench_simulation import bare_round_trip_s

from hil.analysis import glycemia
from hil.patient import days
from hil.patient.alone import live_alone
from hil.patient.nights import load_night, plan_for
from hil.patient.uva_padova import VirtualPatient
from hil.procedures import closed_loop, delivery
from hil.procedures.gravimetric import Gravimetry
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.specs import load_requirements

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3
BARE_ROUND_TRIPS = 2000
BARE_REPEATS = 5


class Discard:
    def append(self, *row) -> None:
        pass


def spread_over_intervals(patient: VirtualPatient, programme, minutes: int) -> np.ndarray:
    """Glucose with the programme's insulin spread evenly over each CGM interval, as the loop gives it."""
    patient.scale_insulin_sensitivity(programme.insulin_sensitivity_factor)
    interval = int(patient.cgm_interval_min)
    doses = np.array([programme.basal_U_per_h / 60.0 + programme.bolus_at(m) for m in range(minutes)])
    glucose = []
    for dose in np.repeat(doses.reshape(-1, interval).mean(axis=1), interval):
        patient.step(float(dose))
        glucose.append(patient.glucose_mg_dl)
    return np.asarray(glucose)


def main() -> None:
    case = load_requirements([ROOT / "specs"])["HS-EFFECT-001"].case
    minutes = int(case.hours * 60)
    alone, replayed, loop, glucose_gap, spread_gap = [], [], [], [], []
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml")) as rig:
        rig.begin_test("bench-closed-loop")
        delivery.prepare(rig)
        grav = Gravimetry(rig.config)
        rig.pump.configure_suspend(case.low_limit, before_low=False, on_low=False)
        for _ in range(ROUNDS):
            for name in case.patients:
                for night in case.nights:
                    def new_patient():
                        return VirtualPatient(name, case.cgm_sensor, seed=case.cgm_seed)

                    programme = plan_for(load_night(night), new_patient(), case.dose_increment_U)
                    patient = new_patient()
                    start = time.perf_counter()
                    ideal = live_alone(patient, programme, minutes)
                    alone.append(time.perf_counter() - start)
                    spread_gap.append(float(np.max(np.abs(spread_over_intervals(new_patient(), programme, minutes)
                                                          - ideal))))

                    patient = new_patient()
                    start = time.perf_counter()
                    record = closed_loop.run(rig, grav, patient, programme, minutes, case.cgm_jitter_s,
                                             np.random.default_rng(0), Discard(), ())
                    loop.append(time.perf_counter() - start)
                    glucose_gap.append(float(np.max(np.abs(np.asarray(record.glucose) - ideal))))

                    patient = new_patient()
                    patient.scale_insulin_sensitivity(programme.insulin_sensitivity_factor)
                    start = time.perf_counter()
                    for m, dose in enumerate(record.insulin_U):
                        if m % patient.cgm_interval_min == 0:
                            patient.cgm()  # the loop reads the sensor at these minutes too
                        patient.step(dose)
                    replayed.append(time.perf_counter() - start)
        bare_s = bare_round_trip_s(rig, BARE_ROUND_TRIPS, BARE_REPEATS)
    nights = len(alone)
    intervals = minutes / int(VirtualPatient("adult#001", case.cgm_sensor).cgm_interval_min)
    model_per_interval_s = sum(alone) / nights / intervals
    ideal_ratio, replayed_ratio = sum(loop) / sum(alone), sum(loop) / sum(replayed)
    per_night = [b / a for a, b in zip(alone, loop, strict=True)]
    print(f"{nights} nights of {case.hours:g} h ({ROUNDS} rounds of {len(case.patients)} patients x "
          f"{len(case.nights)} nights), suspend off:")
    print(f"  model stepped alone: median {statistics.median(alone):.3f} s per night, total {sum(alone):.2f} s")
    print(f"  closed through the rig: median {statistics.median(loop):.3f} s per night, total {sum(loop):.2f} s "
          f"({minutes * 60 / statistics.median(loop):,.0f}x simulated/wall)")
    print(f"  the model alone on the loop's own doses (replayed): total {sum(replayed):.2f} s")
    print(f"  overhead of the loop: {ideal_ratio:.2f}x the model alone on the ideal programme (per night: median "
          f"{statistics.median(per_night):.2f}x, range {min(per_night):.2f}-{max(per_night):.2f}x); "
          f"{replayed_ratio:.2f}x on the same doses replayed: the harness's own share")
    print(f"  harness time per CGM interval: {(sum(loop) - sum(replayed)) / nights / intervals * 1e3:.2f} ms")
    print(f"  the floor, one bare round trip per CGM interval on top of the model alone: "
          f"{(model_per_interval_s + bare_s) / model_per_interval_s:.2f}x (bare pyserial round trip "
          f"{bare_s * 1e6:.0f} us, the model {model_per_interval_s * 1e6:.0f} us per interval)")
    print(f"  patient-days per wall second through the rig: {nights * minutes / 1440 / sum(loop):.2f}")
    print(f"  glucose, rig-delivered vs ideal delivery: largest difference over a night {max(glucose_gap):.1f} mg/dL")
    print(f"  glucose, insulin spread over each CGM interval vs given in its minute (ideal programme): largest "
          f"difference over a night {max(spread_gap):.1f} mg/dL")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "closed_loop.json").write_text(json.dumps({"alone_s": alone, "replayed_s": replayed, "loop_s": loop,
                                                      "bare_round_trip_s": bare_s,
                                                      "glucose_gap_mg_dl": glucose_gap,
                                                      "spread_gap_mg_dl": spread_gap}))
    auto_days()


def auto_days() -> None:
    requirements = load_requirements([ROOT / "specs"])
    loop, replayed, runs = [], [], 0
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml")) as rig:
        grav = Gravimetry(rig.config)
        for rid in ("AID-EFFECT-001", "AID-EFFECT-002", "AID-EFFECT-003"):
            case = requirements[rid].case
            minutes = int(case.hours * 60)
            rig.begin_test(f"bench-{rid}")  # a fresh reservoir per cohort, as each requirement's test has
            delivery.prepare(rig)
            rig.pump.configure_suspend(glycemia.HYPO_MG_DL, before_low=False, on_low=False)
            for name in case.patients:
                for day_name in case.day_scenarios:
                    for arm in ("open", "auto"):
                        patient = VirtualPatient(name, case.cgm_sensor, seed=case.cgm_seed)
                        plan, settings = closed_loop.clinic_day(
                            patient, days.load_day(day_name), **{k: getattr(case, k) for k in closed_loop.CLINIC_SETTINGS}
                        )
                        auto = settings if arm == "auto" else None
                        start = time.perf_counter()
                        record = closed_loop.run(rig, grav, patient, plan, minutes, case.cgm_jitter_s,
                                                 np.random.default_rng(0), Discard(), (), auto=auto)
                        loop.append(time.perf_counter() - start)
                        runs += 1
                        patient = VirtualPatient(name, case.cgm_sensor, seed=case.cgm_seed)
                        start = time.perf_counter()
                        for m, dose in enumerate(record.insulin_U):
                            if m % patient.cgm_interval_min == 0:
                                patient.cgm()
                            patient.step(dose, plan.carbs_at(m))
                        replayed.append(time.perf_counter() - start)
    print(f"{runs} auto-mode days of 24 h (AID-EFFECT-001..003, open loop and auto mode):")
    print(f"  closed through the rig: total {sum(loop):.2f} s, {runs / sum(loop):.2f} patient-days per wall second")
    print(f"  the model alone on the loop's own doses and meals (replayed): total {sum(replayed):.2f} s; overhead of "
          f"the loop {sum(loop) / sum(replayed):.2f}x")


if __name__ == "__main__":
    main()
