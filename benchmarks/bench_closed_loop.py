"""Overhead of the hardware-in-the-loop closed loop: the same virtual-patient nights stepped alone (ideal delivery,
hil.patient.alone) and closed through the emulated rig (hil.procedures.closed_loop: balance read, pump status and
events every simulated minute, CGM to the pump every 5 min, over the real ptys), in one process, one after the
other, per night. Suspend off in both, so the insulin programmes are the same.

Two baselines. The ideal one gives the model the programme as a continuous rate. The replayed one gives it, minute
by minute, the doses the loop gave it: what the balance weighed, in 0.05 U strokes. The loop's cost over the
replayed doses is the harness's alone (rig clock, balance, pump link), whatever a pulsed input costs the model's
ODE solver (on 2026-12-05 both baselines took 0.15 s a night: nothing).

    .venv/bin/python benchmarks/bench_closed_loop.py
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np

from hil.patient.alone import night_alone
from hil.patient.nights import load_night, plan_for
from hil.patient.uva_padova import VirtualPatient
from hil.procedures import closed_loop, delivery
from hil.procedures.gravimetric import Gravimetry
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.specs import load_requirements

ROOT = Path(__file__).resolve().parents[1]


class Discard:
    def append(self, *row) -> None:
        pass


def main() -> None:
    case = load_requirements([ROOT / "specs"])["HS-EFFECT-001"].case
    minutes = int(case["hours"] * 60)
    alone, replayed, loop, glucose_gap = [], [], [], []
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml")) as rig:
        rig.begin_test("bench-closed-loop")
        delivery.prepare(rig)
        grav = Gravimetry(rig.config)
        rig.pump.configure_suspend(case["low_limit"], before_low=False, on_low=False)
        for name in case["patients"]:
            for night in case["nights"]:
                patient = VirtualPatient(name, case["cgm_sensor"], seed=case["cgm_seed"])
                plan = plan_for(load_night(night), patient, case["dose_increment_U"])
                start = time.perf_counter()
                ideal = night_alone(patient, plan, minutes)
                alone.append(time.perf_counter() - start)

                patient = VirtualPatient(name, case["cgm_sensor"], seed=case["cgm_seed"])
                start = time.perf_counter()
                record = closed_loop.run_night(rig, grav, patient, plan, minutes, case["cgm_jitter_s"],
                                               np.random.default_rng(0), Discard(), ())
                loop.append(time.perf_counter() - start)
                glucose_gap.append(float(np.max(np.abs(np.asarray(record.glucose) - ideal))))

                patient = VirtualPatient(name, case["cgm_sensor"], seed=case["cgm_seed"])
                patient.scale_insulin_sensitivity(plan.insulin_sensitivity_factor)
                start = time.perf_counter()
                for m, dose in enumerate(record.insulin_U):
                    if m % patient.cgm_interval_min == 0:
                        patient.cgm()  # the loop reads the sensor at these minutes too
                    patient.step(dose)
                replayed.append(time.perf_counter() - start)
    ratio = [b / a for a, b in zip(alone, loop)]
    harness = [b / a for a, b in zip(replayed, loop)]
    print(f"{len(alone)} nights of {case['hours']:g} h ({len(case['patients'])} patients x {len(case['nights'])} nights), "
          f"suspend off:")
    print(f"  model stepped alone: median {statistics.median(alone):.2f} s per night, total {sum(alone):.1f} s")
    print(f"  closed through the rig: median {statistics.median(loop):.2f} s per night, total {sum(loop):.1f} s "
          f"({minutes * 60 / statistics.median(loop):,.0f}x simulated/wall)")
    print(f"  the model alone on the loop's own doses (replayed): median {statistics.median(replayed):.2f} s per night")
    print(f"  overhead of the loop: median {statistics.median(ratio):.2f}x the model alone on the ideal programme "
          f"(range {min(ratio):.2f}-{max(ratio):.2f}x); {statistics.median(harness):.2f}x on the same doses replayed "
          f"(range {min(harness):.2f}-{max(harness):.2f}x): the harness's own share")
    print(f"  patient-days per wall second through the rig: {minutes / 1440 / statistics.median(loop):.2f}")
    print(f"  glucose, rig-delivered vs ideal delivery: largest difference over a night {max(glucose_gap):.1f} mg/dL")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "closed_loop.json").write_text(json.dumps({"alone_s": alone, "replayed_s": replayed, "loop_s": loop,
                                                              "glucose_gap_mg_dl": glucose_gap}))


if __name__ == "__main__":
    main()
