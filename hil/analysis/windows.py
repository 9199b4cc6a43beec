"""Non-overlapping windows over a cumulative delivery series (Freckmann 1-h windows, label envelopes).

A window must be a whole number of samples long; for a meaningful error at basal rates it should also be
a whole number of stroke periods (pulse quantisation: docs/references.md, "The IEC 60601-2-24 accuracy test"),
which the spec chooses.
"""

import numpy as np

from hil.analysis.trumpet import samples_in


def window_totals(volume: np.ndarray, sample_interval_s: float, window_s: float) -> np.ndarray:
    """Delivered in each complete non-overlapping window, from the first sample on."""
    m = samples_in(window_s, sample_interval_s)
    volume = np.asarray(volume, dtype=float)
    edges = volume[::m]
    return np.diff(edges)


def window_errors(totals: np.ndarray, expected: float) -> np.ndarray:
    """Error of each window total against the expected amount, in %."""
    return 100.0 * (np.asarray(totals, dtype=float) - expected) / expected


def share_within(errors_pct: np.ndarray, band_pct: float) -> float:
    """Share (%) of errors whose magnitude is at most band_pct."""
    errors_pct = np.asarray(errors_pct, dtype=float)
    if errors_pct.size == 0:
        return float("nan")
    return 100.0 * float(np.count_nonzero(np.abs(errors_pct) <= band_pct + 1e-12)) / errors_pct.size


def share_within_uncertainty(errors_pct: np.ndarray, band_pct: float, u_error_pct: float) -> float:
    """Expanded uncertainty (percentage points) of share_within: the share of errors so close to ±band that
    their own expanded uncertainty could put them on either side."""
    errors_pct = np.asarray(errors_pct, dtype=float)
    if errors_pct.size == 0:
        return 0.0
    ambiguous = np.abs(np.abs(errors_pct) - band_pct) <= u_error_pct
    return 100.0 * float(np.count_nonzero(ambiguous)) / errors_pct.size
