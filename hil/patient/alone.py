"""A night of a virtual patient without a rig: the pump programme delivered as an ideal continuous rate (the
bolus in its first minute), no suspension. The baseline for the closed loop's overhead (benchmarks/) and a
cross-check of what the rig delivered."""

import numpy as np

from hil.patient.nights import NightPlan
from hil.patient.uva_padova import VirtualPatient


def night_alone(patient: VirtualPatient, plan: NightPlan, minutes: int) -> np.ndarray:
    """Glucose (mg/dL) at the end of each minute."""
    patient.scale_insulin_sensitivity(plan.insulin_sensitivity_factor)
    glucose = np.empty(minutes)
    for m in range(minutes):
        patient.step(plan.basal_U_per_h / 60.0 + (plan.bolus_U if m == 0 else 0.0))
        glucose[m] = patient.glucose_mg_dl
    return glucose
