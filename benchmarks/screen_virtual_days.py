"""The screening behind the AID-EFFECT requirements' day: every UVA/Padova patient (all 30) lives a day scenario
through the emulated rig twice, open-loop pump therapy and auto mode, with the settings of an AID-EFFECT case (the
user's bolus calculator and auto mode on the clinic's starting settings, hil.procedures.closed_loop.clinic_day),
and the time 70-180 mg/dL and below 70 mg/dL are printed per patient and per cohort. It shows where the day puts
open-loop therapy against the trials' control arms, and what the nominal emulated auto mode does with it.

    .venv/bin/python benchmarks/screen_virtual_days.py [day] [requirement]   (default: mixed-day AID-EFFECT-002)
"""

import sys
import time
from pathlib import Path

import numpy as np

from hil.analysis import glycemia
from hil.patient import days
from hil.patient.uva_padova import VirtualPatient, patient_names
from hil.procedures import closed_loop, delivery
from hil.procedures.gravimetric import Gravimetry
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.specs import load_requirements

ROOT = Path(__file__).resolve().parents[1]


class Discard:
    def append(self, *row) -> None:
        pass


def main(day_name: str = "mixed-day", requirement: str = "AID-EFFECT-002") -> None:
    case = load_requirements([ROOT / "specs"])[requirement].case
    minutes, step_min = int(case.hours * 60), closed_loop.STEP_S / 60.0
    day = days.load_day(day_name)
    shares: dict[str, dict[str, list[tuple[float, float]]]] = {}
    started = time.perf_counter()
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml")) as rig:
        grav = Gravimetry(rig.config)
        for name in patient_names():
            rig.begin_test(f"screen-{name}")  # a fresh reservoir for each patient's two runs
            delivery.prepare(rig)
            rig.pump.configure_suspend(glycemia.HYPO_MG_DL, before_low=False, on_low=False)
            line = f"{name:<15}"
            for arm in ("open", "auto"):
                patient = VirtualPatient(name, case.cgm_sensor, seed=case.cgm_seed)
                plan, settings = closed_loop.clinic_day(
                    patient, day, **{k: getattr(case, k) for k in closed_loop.CLINIC_SETTINGS}
                )
                record = closed_loop.run(rig, grav, patient, plan, minutes, case.cgm_jitter_s,
                                         np.random.default_rng([case.cgm_seed, 0, 0]), Discard(), (),
                                         auto=settings if arm == "auto" else None)
                total = len(record.glucose) * step_min
                in_range = 100.0 * glycemia.time_in_range(record.glucose, step_min) / total
                below = 100.0 * glycemia.time_below(record.glucose, step_min) / total
                shares.setdefault(name.split("#")[0], {}).setdefault(arm, []).append((in_range, below))
                line += f"  {arm}: 70-180 {in_range:5.1f} %, <70 {below:5.1f} %"
            print(line, flush=True)
    print(f"{day_name}, per cohort (mean of its patients' days):")
    for cohort, arms in shares.items():
        (open_tir, open_low), (auto_tir, auto_low) = (np.mean(arms[a], axis=0) for a in ("open", "auto"))
        print(f"  {cohort:<11} open loop 70-180 {open_tir:5.1f} %, <70 {open_low:5.1f} %;  auto mode 70-180 "
              f"{auto_tir:5.1f} %, <70 {auto_low:5.1f} %;  gain {auto_tir - open_tir:+5.1f} points")
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
