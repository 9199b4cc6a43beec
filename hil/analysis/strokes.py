"""Stroke detection on a gravimetric series: dose and interval of each pump stroke (METAS dose-by-dose
analysis, Bissig et al. 2020/2022; docs/references.md, "What gravimetry can reach at insulin rates").

A stroke shows as a rise spread over a few samples (line outflow and balance settling). Samples whose rise
exceeds the threshold are grouped into runs; each run is one stroke, its dose the rise from the sample
before the run to the second sample after it (the settling tail), its time the sample before the run.
Strokes must be at least three samples apart for the doses to be separate.

To count strokes one by one (`countable_strokes`), the threshold must clear the balance's noise and sit below every
stroke's rise. A reading difference's standard uncertainty u (from the rig file's repeatability and readability) is
the noise: with Gaussian noise of that size a rise above 5 u comes about once in 3.5 million samples. The threshold
is half the median of the one-sample rises above 5 u (mostly each stroke's first sample), capped at 10 u, the fixed
threshold strokes well above the noise were always counted by; when that median does not clear 10 u, strokes are
not counted at all. A pump's small steps (the BPX-L's 0.025 U against a 0.05 U stroke, rising about 0.022 U in
their first sample against a 10 u of 0.021 U) then stay countable, where a fixed 10 u missed the ones its scatter
put under it.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Strokes:
    times_s: np.ndarray
    doses: np.ndarray  # same unit as the input series

    @property
    def intervals_s(self) -> np.ndarray:
        return np.diff(self.times_s)

    def summary(self) -> dict[str, float]:
        doses, intervals = self.doses, self.intervals_s
        return {
            "count": float(doses.size),
            "dose_mean": float(doses.mean()) if doses.size else float("nan"),
            "dose_cv_pct": float(100 * doses.std(ddof=1) / doses.mean()) if doses.size > 1 else float("nan"),
            "interval_mean_s": float(intervals.mean()) if intervals.size else float("nan"),
            "interval_cv_pct": float(100 * intervals.std(ddof=1) / intervals.mean())
            if intervals.size > 1
            else float("nan"),
        }


def detect_strokes(t_s: np.ndarray, series: np.ndarray, threshold: float) -> Strokes:
    """Strokes in a cumulative series sampled well below the stroke period."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(series, dtype=float)
    rising = np.diff(y) > threshold
    if not rising.any():
        return Strokes(np.empty(0), np.empty(0))
    edges = np.diff(rising.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)  # the sample just before each run of rises
    ends = np.flatnonzero(edges == -1)  # the sample just after it; one more takes in the settling tail
    doses = y[np.minimum(ends + 1, y.size - 1)] - y[starts]
    return Strokes(t[starts], doses)


NOISE_FLOOR_U = 5.0  # in standard uncertainties of a reading difference: a rise no noise makes
STROKE_FLOOR_U = 10.0  # a stroke's rise must clear this to be counted; the threshold never exceeds it


def countable_strokes(t_s: np.ndarray, series: np.ndarray, u_difference: float) -> Strokes | None:
    """The strokes of a cumulative series counted one by one, or None when they cannot be: fewer than three above
    the noise, a typical rise under STROKE_FLOOR_U · u_difference, or strokes less than three samples apart."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(series, dtype=float)
    rises = np.diff(y)
    clear = rises[rises > NOISE_FLOOR_U * u_difference]
    if clear.size < 3:
        return None
    threshold = min(STROKE_FLOOR_U * u_difference, float(np.median(clear)) / 2.0)
    if threshold < NOISE_FLOOR_U * u_difference:
        return None
    strokes = detect_strokes(t, y, threshold)
    if strokes.doses.size < 3 or np.median(strokes.intervals_s) < 3 * float(np.median(np.diff(t))):
        return None
    return strokes
