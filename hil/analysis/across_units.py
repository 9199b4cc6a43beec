"""A metric across pump units: their mean and its expanded uncertainty (GUM), for a requirement judged as a set.

The units are a sample of the model's production, so the mean carries two contributions: the units' spread
(type A, s/√n) and each unit's own measurement uncertainty (type B, its expanded U at k = 2, so U/2 standard,
averaged: √Σu_i²/n). The coverage factor is Student's t at 95 % with n − 1 degrees of freedom (GUM G.3): with two
units it is 12.7, so two units say little about a model, which is the truth of it. Taking n − 1 for the combined
uncertainty is conservative: the Welch-Satterthwaite degrees of freedom are at least that.
"""

import math
from dataclasses import dataclass

import numpy as np

COVERAGE_PROBABILITY = 0.95


@dataclass(frozen=True)
class UnitsMean:
    mean: float
    expanded_u: float
    coverage_factor: float  # Student's t at 95 %, n − 1 degrees of freedom
    spread: float  # the units' sample standard deviation
    n: int


def mean_across_units(values: list[float], expanded_u: list[float]) -> UnitsMean:
    """The mean of one metric over n ≥ 2 units (finite values, each with its expanded U at k = 2)."""
    x, big_u = np.asarray(values, dtype=float), np.abs(np.asarray(expanded_u, dtype=float))
    n = x.size
    if n < 2 or big_u.size != n:
        raise ValueError(f"a mean across units needs two units or more, each with its uncertainty (got {n})")
    if not (np.isfinite(x).all() and np.isfinite(big_u).all()):
        raise ValueError("a mean across units needs finite values and uncertainties")
    spread = float(np.std(x, ddof=1))
    u_units = spread / math.sqrt(n)
    u_measurements = math.sqrt(float(np.sum((big_u / 2.0) ** 2))) / n
    from scipy import stats  # here, not at the top: half a second of import for every `hil` command otherwise

    k = float(stats.t.ppf(0.5 + COVERAGE_PROBABILITY / 2.0, n - 1))
    return UnitsMean(float(np.mean(x)), k * math.hypot(u_units, u_measurements), k, spread, n)
