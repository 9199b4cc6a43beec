"""Overhead of the hardware-in-the-loop closed loop: the same virtual-patient nights stepped alone (ideal delivery,
hil.patient.alone) and closed through the emulated rig (hil.procedures.closed_loop: balance read, pump status and
events every simulated minute, CGM to the pump every 5 min, over the real ptys), in one process, one after the
other, per night. Suspend off in both, so the insulin programmes are the same.

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
    alone, loop, glucose_gap = [], [], []
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
    ratio = [b / a for a, b in zip(alone, loop)]
    print(f"{len(alone)} nights of {case['hours']:g} h ({len(case['patients'])} patients x {len(case['nights'])} nights), "
          f"suspend off:")
    print(f"  model stepped alone: median {statistics.median(alone):.2f} s per night, total {sum(alone):.1f} s")
    print(f"  closed through the rig: median {statistics.median(loop):.2f} s per night, total {sum(loop):.1f} s "
          f"({minutes * 60 / statistics.median(loop):,.0f}x simulated/wall)")
    print(f"  overhead of the loop: median {statistics.median(ratio):.2f}x the model alone "
          f"(range {min(ratio):.2f}-{max(ratio):.2f}x)")
    print(f"  glucose, rig-delivered vs ideal delivery: largest difference over a night {max(glucose_gap):.1f} mg/dL")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "closed_loop.json").write_text(json.dumps({"alone_s": alone, "loop_s": loop, "glucose_gap_mg_dl": glucose_gap}))


if __name__ == "__main__":
    main()
