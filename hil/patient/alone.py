"""A virtual patient without a rig: the pump programme delivered as an ideal continuous basal, each bolus within
its minute, no pump decisions. The baseline for the closed loop's overhead (benchmarks/) and a cross-check of what
the rig delivered."""

import numpy as np

from hil.patient.programme import Programme
from hil.patient.uva_padova import VirtualPatient


def live_alone(patient: VirtualPatient, programme: Programme, minutes: int) -> np.ndarray:
    """Glucose (mg/dL) at the end of each minute."""
    patient.scale_insulin_sensitivity(programme.insulin_sensitivity_factor)
    glucose = np.empty(minutes)
    for m in range(minutes):
        patient.step(programme.basal_U_per_h / 60.0 + programme.bolus_at(m), programme.carbs_at(m))
        glucose[m] = patient.glucose_mg_dl
    return glucose
