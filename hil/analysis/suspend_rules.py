"""The published low-glucose suspend rules, written independently of any pump, to judge one
(SmartGuard; docs/references.md, "Low-glucose suspend rules"; prediction linear over the last four values, as
Basal-IQ: the current value plus 30 min of the CGM trend as the CGM reports it, hil.analysis.cgm_trend):
which CGM value obliges a suspension, and which value after the minimum time permits the resume.
Pure functions over a CGM trace: times in s, glucose in mg/dL, None for a missing value."""

from hil.analysis import cgm_trend

MIN_SUSPEND_S = 30 * 60.0
HORIZON_MIN = 30.0


def predictions(t_s, glucose) -> list[float | None]:
    """30-min prediction at each received value: the value plus 30 min of its reported trend (the slope over
    the last four values received within 20 min, to 0.1 mg/dL/min; one value: no trend, the value itself)."""
    return [
        None if g is None or trend is None else cgm_trend.predicted(g, trend, HORIZON_MIN)  # None together
        for g, trend in zip(glucose, cgm_trend.trends(t_s, glucose), strict=True)
    ]


def first_suspend_index(t_s, glucose, low_limit: float, before_low: bool, on_low: bool) -> int | None:
    """Index of the first value at which a suspension is due, or None."""
    for i, (g, p) in enumerate(zip(glucose, predictions(t_s, glucose), strict=True)):
        if g is None or p is None:  # None together
            continue
        if (on_low and g <= low_limit) or (before_low and g <= low_limit + 70 and p <= low_limit + 20):
            return i
    return None


def first_resume_index(t_s, glucose, low_limit: float, suspended_s: float) -> int | None:
    """Index of the first value, at least the minimum time after the suspension, that permits a resume."""
    for i, (t, g, p) in enumerate(zip(t_s, glucose, predictions(t_s, glucose), strict=True)):
        if (
            g is not None
            and p is not None
            and t - suspended_s >= MIN_SUSPEND_S
            and g >= low_limit + 20
            and p > low_limit + 40
        ):
            return i
    return None
