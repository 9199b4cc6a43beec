"""Standard uncertainty of gravimetric differences (GUM, type B from the balance's data sheet).

A delivered amount is the difference of two readings; each reading carries the repeatability (a standard
deviation) and the readability's rounding (rectangular, r/√12). Expanded uncertainty uses k = 2.
"""

import math

COVERAGE_FACTOR = 2.0


def reading_uncertainty_mg(repeatability_mg: float, readability_mg: float) -> float:
    return math.hypot(repeatability_mg, readability_mg / math.sqrt(12.0))


def difference_uncertainty_mg(repeatability_mg: float, readability_mg: float) -> float:
    """Standard uncertainty of the difference of two independent readings."""
    return math.sqrt(2.0) * reading_uncertainty_mg(repeatability_mg, readability_mg)


def expanded(u: float) -> float:
    return COVERAGE_FACTOR * u
