"""A measured metric as the analysis hands it to the evidence: its value, its unit and its expanded uncertainty
(k = 2), under its name with its parameters (`window_share_within[window_h=1, band_pct=15]`), the name its
requirement's bound has (hil.specs.metrics)."""

from typing import NamedTuple


class Metric(NamedTuple):
    value: float
    unit: str
    U: float  # expanded uncertainty (k = 2), in the unit


Metrics = dict[str, Metric]  # measurement name → its metric


def measurement_name(metric: str, params: dict[str, float]) -> str:
    """Display name of a metric with its parameters, e.g. ``window_share_within[window_h=1, band_pct=15]``."""
    if not params:
        return metric
    inner = ", ".join(f"{k}={v:g}" for k, v in params.items())
    return f"{metric}[{inner}]"
