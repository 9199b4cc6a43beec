"""The published low-glucose suspend rules, written independently of any pump, to judge one
(standards-and-clinical.md §5, SmartGuard; prediction linear over the last four values, as Basal-IQ):
which CGM value obliges a suspension, and which value after the minimum time permits the resume.
Pure functions over a CGM trace: times in s, glucose in mg/dL, None for a missing value."""

import numpy as np

MIN_SUSPEND_S = 30 * 60.0
HORIZON_MIN = 30.0
WINDOW_S = 20 * 60.0


def predictions(t_s, glucose) -> list[float | None]:
    """30-min prediction at each received value: linear over the last four received within 20 min."""
    out, seen = [], []
    for t, g in zip(t_s, glucose):
        if g is None:
            out.append(None)
            continue
        seen = [(ts, gs) for ts, gs in seen[-3:] if t - ts <= WINDOW_S] + [(t, g)]
        if len(seen) < 2:
            out.append(float(g))
        else:
            times, values = np.array(seen).T
            slope = np.polyfit((times - t) / 60.0, values, 1)[0]
            out.append(float(g + slope * HORIZON_MIN))
    return out


def first_suspend_index(t_s, glucose, low_limit: float, before_low: bool, on_low: bool) -> int | None:
    """Index of the first value at which a suspension is due, or None."""
    for i, (g, p) in enumerate(zip(glucose, predictions(t_s, glucose))):
        if g is None:
            continue
        if (on_low and g <= low_limit) or (before_low and g <= low_limit + 70 and p <= low_limit + 20):
            return i
    return None


def first_resume_index(t_s, glucose, low_limit: float, suspended_s: float) -> int | None:
    """Index of the first value, at least the minimum time after the suspension, that permits a resume."""
    for i, (t, g, p) in enumerate(zip(t_s, glucose, predictions(t_s, glucose))):
        if g is not None and t - suspended_s >= MIN_SUSPEND_S and g >= low_limit + 20 and p > low_limit + 40:
            return i
    return None
