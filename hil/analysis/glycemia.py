"""Glycaemic exposure of a glucose trace sampled every step_min, as the trials report it: time below a threshold
(PROLOG: time < 70 mg/dL), the area below it (ASPIRE: nocturnal event AUC, mg/dL·min), and time in range (670G
pivotal, iDCL: 70-180 mg/dL)."""

import math

import numpy as np

HYPO_MG_DL = 70.0
RANGE_MG_DL = (70.0, 180.0)  # the consensus target range (670G pivotal, iDCL)


def time_below(glucose, step_min: float, threshold: float = HYPO_MG_DL) -> float:
    """Minutes spent below the threshold."""
    return float(np.count_nonzero(np.asarray(glucose, dtype=float) < threshold)) * step_min


def time_in_range(glucose, step_min: float, low: float = RANGE_MG_DL[0], high: float = RANGE_MG_DL[1]) -> float:
    """Minutes spent from low to high, both included."""
    g = np.asarray(glucose, dtype=float)
    return float(np.count_nonzero((g >= low) & (g <= high))) * step_min


def area_below(glucose, step_min: float, threshold: float = HYPO_MG_DL) -> float:
    """Area between the threshold and the trace where it is below, mg/dL·min (rectangle rule)."""
    return float(np.clip(threshold - np.asarray(glucose, dtype=float), 0.0, None).sum()) * step_min


def reduction_pct(treated: float, control: float) -> float:
    """How much smaller treated is than control, in % of control; NaN when control has nothing to reduce."""
    return math.nan if control <= 0 else 100.0 * (control - treated) / control
