"""The evaporation rate of a collection vessel from a blank run: the balance read at a fixed interval for hours
with nothing delivered. Every weighed amount is corrected by this rate (REFERENCES.md: evaporation from an open
beaker can equal a 1-4 U/h basal; metrology.md §1.4, parasitic mass terms, and its open item: blank evaporation
measured on the real rig). Pure functions."""

import numpy as np

SEGMENT_S = 3600.0  # the rate is also taken hour by hour: its spread is how much one hour's loss varies


def blank_run_rate(t_s, mass_mg, segment_s: float = SEGMENT_S) -> tuple[float, float, int]:
    """(rate in mg/h lost, its standard uncertainty in mg/h, number of segments). The rate is the least-squares
    slope over the whole run; its uncertainty the standard deviation of the rates of the run's whole segments of
    segment_s (each a least-squares slope of its own samples), which holds for any one hour a test corrects, as
    the rig file's u_rate_mg_per_h is used. ValueError with fewer than two whole segments of three samples."""
    t, m = np.asarray(t_s, dtype=float), np.asarray(mass_mg, dtype=float)
    if t.size < 3 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(m))):
        raise ValueError("a blank run needs at least three finite readings")
    rate = -float(np.polyfit((t - t[0]) / 3600.0, m, 1)[0])
    segments = []
    for k in range(int((t[-1] - t[0]) // segment_s)):
        inside = (t >= t[0] + k * segment_s) & (t <= t[0] + (k + 1) * segment_s)
        if inside.sum() >= 3:
            segments.append(-float(np.polyfit((t[inside] - t[0]) / 3600.0, m[inside], 1)[0]) * 3600.0 / segment_s)
    if len(segments) < 2:
        raise ValueError(f"a blank run needs at least two whole segments of {segment_s:g} s with three readings each")
    return rate, float(np.std(segments, ddof=1)), len(segments)
