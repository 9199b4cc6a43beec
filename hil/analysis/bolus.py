"""Bolus statistics (Ziegler et al. 2020: 25 boluses a size, mean deviation, share within ±15 %) and the
gravimetric delivery time of a single bolus with its settling tail (JDST 2022 video microscopy)."""

import numpy as np

from hil.analysis.windows import share_within


def bolus_statistics(delivered: np.ndarray, programmed: float, band_pct: float) -> dict[str, float]:
    delivered = np.asarray(delivered, dtype=float)
    deviations = 100.0 * (delivered - programmed) / programmed
    return {
        "bolus_mean_error": float(deviations.mean()),
        "bolus_sd": float(deviations.std(ddof=1)) if delivered.size > 1 else float("nan"),
        "bolus_min": float(delivered.min()),
        "bolus_max": float(delivered.max()),
        "bolus_share_within": share_within(deviations, band_pct),
    }


def delivery_time(
    t_s: np.ndarray, cumulative: np.ndarray, low: float = 0.05, high: float = 0.95
) -> tuple[float, float]:
    """Times at which the cumulative series first reaches `low` and `high` of its final value
    (linear interpolation between samples); the series starts at zero at the bolus command."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(cumulative, dtype=float)
    total = y[-1]
    return _first_crossing(t, y, low * total), _first_crossing(t, y, high * total)


def tail_fraction_pct(t_s: np.ndarray, cumulative: np.ndarray, nominal_end_s: float) -> float:
    """Share (%) of the final amount that arrives after the nominal end of the bolus."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(cumulative, dtype=float)
    at_end = float(np.interp(nominal_end_s, t, y))
    return 100.0 * (y[-1] - at_end) / y[-1]


def _first_crossing(t: np.ndarray, y: np.ndarray, level: float) -> float:
    index = int(np.argmax(y >= level))
    if index == 0:
        return float(t[0])
    t0, t1, y0, y1 = t[index - 1], t[index], y[index - 1], y[index]
    return float(t0 + (level - y0) * (t1 - t0) / (y1 - y0))
