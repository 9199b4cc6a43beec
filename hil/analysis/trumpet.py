"""IEC 60601-2-24 trumpet curve and overall error, computed from cumulative delivered volume.

With Q_i = (W_i − W_{i−1})/S, the mean of the flows over a window of m samples telescopes to
(W_{j+m} − W_j)/(m·S): every window error is an endpoint difference of the cumulative series, so the whole
trumpet is a few vectorised subtractions instead of a moving average per window
(the project's derivation: docs/references.md, "The IEC 60601-2-24 accuracy test"). The series is uniform: a
recording is read onto its
nominal grid from the real sample times first (hil.analysis.sampling.on_grid).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrumpetPoint:
    window_s: float
    ep_max_pct: float
    ep_min_pct: float
    positions: int


def overall_error_pct(volume: np.ndarray, duration_s: float, rate_per_s: float) -> float:
    """A = 100·(Q̄ − r)/r over the whole series (volume cumulative, same unit as rate·s)."""
    volume = np.asarray(volume, dtype=float)
    return 100.0 * ((volume[-1] - volume[0]) / duration_s - rate_per_s) / rate_per_s


def window_errors_pct(volume: np.ndarray, sample_interval_s: float, window_s: float, rate_per_s: float) -> np.ndarray:
    """Errors of every sliding window of `window_s` (a whole number of samples) over a uniform series."""
    m = samples_in(window_s, sample_interval_s)
    volume = np.asarray(volume, dtype=float)
    if m >= volume.size:
        return np.empty(0)
    delivered = volume[m:] - volume[:-m]
    return 100.0 * (delivered / (m * sample_interval_s) - rate_per_s) / rate_per_s


def trumpet(volume: np.ndarray, sample_interval_s: float, windows_s, rate_per_s: float) -> list[TrumpetPoint]:
    """Ep(max) and Ep(min) for each observation window; windows longer than the series give NaN."""
    points = []
    for window in windows_s:
        errors = window_errors_pct(volume, sample_interval_s, window, rate_per_s)
        if errors.size:
            points.append(TrumpetPoint(window, float(errors.max()), float(errors.min()), int(errors.size)))
        else:
            points.append(TrumpetPoint(window, float("nan"), float("nan"), 0))
    return points


def samples_in(window_s: float, sample_interval_s: float) -> int:
    m = window_s / sample_interval_s
    if m < 1 or abs(m - round(m)) > 1e-9:
        raise ValueError(f"window {window_s:g} s is not a whole number of {sample_interval_s:g} s samples")
    return int(round(m))
