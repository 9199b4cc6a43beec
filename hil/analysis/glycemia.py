"""Glycaemic exposure of a glucose trace sampled every step_min, as the trials report it: time below a threshold
(PROLOG: sensor time < 70 mg/dL), the area below it, the area of hypoglycaemic events (ASPIRE In-Home: sensor glucose
at or below 65 mg/dL for more than 20 min, mg/dL·min), and time in range (670G pivotal, iDCL: 70-180 mg/dL)."""

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


def event_area_below(glucose, step_min: float, threshold: float, longer_than_min: float) -> float:
    """Area between the threshold and the trace (mg/dL·min, rectangle rule) over the events only: runs of samples at or
    below the threshold lasting more than longer_than_min, each sample standing for its step (ASPIRE In-Home's
    nocturnal events: ≤ 65 mg/dL for more than 20 min, so five 5-min values; the abstract gives no other reference
    for the area, so the event threshold is taken as it: the project's reading;
    docs/references.md, "Low-glucose suspend: clinical effect")."""
    area, run = 0.0, []
    for value in [*np.asarray(glucose, dtype=float), math.inf]:
        if value <= threshold:
            run.append(value)
            continue
        if len(run) * step_min > longer_than_min:
            area += sum(threshold - v for v in run) * step_min
        run = []
    return area


def reduction_pct(treated: float, control: float) -> float:
    """How much smaller treated is than control, in % of control; NaN when control has nothing to reduce."""
    return math.nan if control <= 0 else 100.0 * (control - treated) / control
