"""Low-glucose suspend rules, written independently of any pump, to judge one: which CGM value obliges a
suspension, and which value after the minimum time permits the resume. The rules' thresholds are the pump's claims
(SmartGuard's for the reference pump; docs/references.md, "Low-glucose suspend rules"), given by the requirement's
case; the prediction is the requirement's stated method: the current value plus 30 min of the CGM trend as the CGM
reports it, linear over the last four values as Basal-IQ (hil.analysis.cgm_trend).
Pure functions over a CGM trace: times in s, glucose in mg/dL, None for a missing value."""

from dataclasses import dataclass
from typing import Protocol

from hil.analysis import cgm_trend

HORIZON_MIN = 30.0


class StatedRules(Protocol):
    """A case that states the rules (hil.specs.methods.CgmScenario), by its parameters' names."""

    @property
    def low_limit(self) -> float: ...
    @property
    def suspend_before_low_within_mg_dl(self) -> float: ...
    @property
    def suspend_before_low_predicted_mg_dl(self) -> float: ...
    @property
    def resume_above_mg_dl(self) -> float: ...
    @property
    def resume_predicted_above_mg_dl(self) -> float: ...
    @property
    def suspend_min_min(self) -> float: ...


@dataclass(frozen=True)
class Rules:
    """A pump's claimed suspend and resume rules around its low limit (mg/dL above it), and the minimum time
    suspended."""

    low_limit: float
    before_low_within_mg_dl: float  # suspend before low: the glucose at most this far above the limit ...
    before_low_predicted_mg_dl: float  # ... and predicted at most this far above it
    resume_above_mg_dl: float  # resume: the glucose at least this far above the limit ...
    resume_predicted_above_mg_dl: float  # ... and predicted more than this far above it
    min_suspend_min: float

    @classmethod
    def of_case(cls, case: StatedRules) -> "Rules":
        return cls(
            case.low_limit,
            case.suspend_before_low_within_mg_dl,
            case.suspend_before_low_predicted_mg_dl,
            case.resume_above_mg_dl,
            case.resume_predicted_above_mg_dl,
            case.suspend_min_min,
        )


def predictions(t_s, glucose) -> list[float | None]:
    """30-min prediction at each received value: the value plus 30 min of its reported trend (the slope over
    the last four values received within 20 min, to 0.1 mg/dL/min; one value: no trend, the value itself)."""
    return [
        None if g is None or trend is None else cgm_trend.predicted(g, trend, HORIZON_MIN)  # None together
        for g, trend in zip(glucose, cgm_trend.trends(t_s, glucose), strict=True)
    ]


def first_suspend_index(t_s, glucose, rules: Rules, before_low: bool, on_low: bool) -> int | None:
    """Index of the first value at which a suspension is due, or None."""
    limit = rules.low_limit
    for i, (g, p) in enumerate(zip(glucose, predictions(t_s, glucose), strict=True)):
        if g is None or p is None:  # None together
            continue
        if (on_low and g <= limit) or (
            before_low and g <= limit + rules.before_low_within_mg_dl and p <= limit + rules.before_low_predicted_mg_dl
        ):
            return i
    return None


def first_resume_index(t_s, glucose, rules: Rules, suspended_s: float) -> int | None:
    """Index of the first value, at least the minimum time after the suspension, that permits a resume."""
    limit = rules.low_limit
    for i, (t, g, p) in enumerate(zip(t_s, glucose, predictions(t_s, glucose), strict=True)):
        if (
            g is not None
            and p is not None
            and t - suspended_s >= rules.min_suspend_min * 60.0
            and g >= limit + rules.resume_above_mg_dl
            and p > limit + rules.resume_predicted_above_mg_dl
        ):
            return i
    return None
