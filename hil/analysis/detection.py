"""Detection statistics over repeated fault trials and nominal days, with one-sided 95 % confidence limits:
Wilson's score interval for a share (sensitivity, or a share of false failures), the exact (Garwood) Poisson limit
for a rate (false alarms per day). Pure functions."""

import math

import numpy as np

ONE_SIDED_95 = 0.95


def wilson_lower(successes: int, trials: int, confidence: float = ONE_SIDED_95) -> float:
    """One-sided lower confidence limit of a binomial share (0-1)."""
    if trials <= 0:
        return math.nan
    from scipy import stats  # here, not at the top: half a second of import for every `hil` command otherwise

    z = stats.norm.ppf(confidence)
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(p, max(0.0, (centre - spread) / (1 + z * z / trials)))  # clamped against rounding


def wilson_upper(successes: int, trials: int, confidence: float = ONE_SIDED_95) -> float:
    """One-sided upper confidence limit of a binomial share (0-1): the lower limit of the complementary share."""
    return 1.0 - wilson_lower(trials - successes, trials, confidence)


def poisson_upper(events: int, exposure: float, confidence: float = ONE_SIDED_95) -> float:
    """One-sided upper confidence limit of a Poisson rate (events per unit of exposure), exact (Garwood)."""
    if exposure <= 0:
        return math.nan
    from scipy import stats  # as in wilson_lower

    return float(stats.chi2.ppf(confidence, 2 * events + 2)) / 2.0 / exposure


def delay_summary(delays_min) -> dict[str, float]:
    """Median, 90th percentile and maximum of the detection delays of the detected trials (NaN when none)."""
    d = np.asarray([x for x in delays_min if math.isfinite(x)], dtype=float)
    if d.size == 0:
        return {"median": math.nan, "p90": math.nan, "max": math.nan}
    return {"median": float(np.median(d)), "p90": float(np.percentile(d, 90)), "max": float(d.max())}
