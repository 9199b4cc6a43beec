"""Stroke detection on a gravimetric series: dose and interval of each pump stroke (METAS dose-by-dose
analysis, Bissig et al. 2020/2022; docs/references.md, "What gravimetry can reach at insulin rates").

A stroke shows as a rise spread over a few samples (line outflow and balance settling). Samples whose rise
exceeds the threshold are grouped into runs; each run is one stroke, its dose the rise from the sample
before the run to the second sample after it (the settling tail), its time the sample before the run.
Strokes must be at least three samples apart for the doses to be separate.
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
