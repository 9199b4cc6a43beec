"""Measurements with limits, expanded uncertainty and an outcome, in the manner of OpenHTF.

Decision rule (ILAC-G8 with a guard band equal to the expanded uncertainty U):
PASS when [x − U, x + U] lies inside the limits, FAIL when it lies wholly outside, INCONCLUSIVE when it
straddles a limit. A value that could not be computed (NaN) is INCONCLUSIVE. A measurement without limits
is reported (INFO) and does not decide the verdict.
"""

import math
from dataclasses import asdict, dataclass
from enum import StrEnum

from hil.specs.model import limits_text


class Outcome(StrEnum):
    """A measurement's outcome under the decision rule; INFO: reported, without limits, decides nothing."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    INFO = "INFO"


PASS, FAIL, INCONCLUSIVE, INFO = Outcome

DECISION_RULE = (
    "Decision rule (ILAC-G8, guard band = expanded uncertainty U, k = 2, GUM): a measurement PASSES when its "
    "value ± U lies inside the requirement's limits, FAILS when it lies wholly outside, and is INCONCLUSIVE when "
    "it straddles a limit (the rig cannot resolve the requirement) or could not be computed. Fitness: for a "
    "two-sided bound, a test uncertainty ratio ((max - min) / 2U) below the requirement file's min_tur makes the "
    "result INCONCLUSIVE, never PASS. Detection shares and "
    "alarm rates carry one-sided 95 % confidence limits in place of U. A test passes only when it ran to its end "
    "and every acceptance bound of its requirement has a finite measurement inside it; INCONCLUSIVE fails the test."
)


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float
    unit: str
    low: float | None = None
    high: float | None = None
    uncertainty: float = 0.0  # expanded, k = 2, in `unit`
    source: str = ""
    outcome: Outcome = INFO
    tur: float | None = None  # test uncertainty ratio of a two-sided bound: (high - low) / 2 / U
    min_tur: float | None = None  # what the requirement file asks of the rig

    def summary(self) -> str:
        u = f" ± {self.uncertainty:.3g}" if self.uncertainty else ""
        value = (
            f"not measured (the rig's expected U is {self.uncertainty:.3g} {self.unit})"
            if self.unfit and math.isnan(self.value)
            else f"{self.value:.4g}{u} {self.unit}"
        )
        text = f"{self.name} = {value}, limits {limits_text(self.low, self.high, self.unit)}: {self.outcome}"
        if self.outcome == INCONCLUSIVE:
            if self.unfit:
                text += (
                    f" (test uncertainty ratio {self.tur:.2g} < {self.min_tur:g}: "
                    "the rig cannot resolve this requirement)"
                )
            elif not _judgeable(self.low, self.high, self.uncertainty, self.min_tur):
                text += " (the uncertainty, a limit or the required TUR is not a finite number: cannot be judged)"
            elif math.isnan(self.value):
                text += " (no value could be computed)"
            else:
                text += " (the expanded uncertainty straddles the limit: the rig cannot resolve this requirement)"
        return text

    @property
    def unfit(self) -> bool:
        """The rig's uncertainty is too large for the bound (TUR below the requirement file's minimum)."""
        return self.tur is not None and self.min_tur is not None and self.tur < self.min_tur

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def decide(value: float, low: float | None, high: float | None, uncertainty: float = 0.0) -> Outcome:
    if low is None and high is None:
        return INFO
    if value is None or math.isnan(value):
        return INCONCLUSIVE
    u = abs(uncertainty)
    if (low is not None and value + u < low) or (high is not None and value - u > high):
        return FAIL
    if (low is not None and value - u < low) or (high is not None and value + u > high):
        return INCONCLUSIVE
    return PASS


def measurement(
    name: str,
    value: float,
    unit: str,
    low=None,
    high=None,
    uncertainty: float = 0.0,
    source: str = "",
    min_tur: float | None = None,
) -> Measurement:
    """A judged measurement. With min_tur, a two-sided bound whose test uncertainty ratio falls below it is
    INCONCLUSIVE (the fitness check), never PASS; a FAIL stays a FAIL."""
    value, u = float(value), abs(float(uncertainty))
    tur = None
    if low is not None and high is not None:
        tur = math.inf if u == 0 else (high - low) / 2.0 / u
    bounded = low is not None or high is not None
    if bounded and not _judgeable(low, high, u, min_tur):  # an unknown U would make every value PASS
        return Measurement(name, value, unit, low, high, u, source, INCONCLUSIVE, tur, min_tur)
    if math.isnan(value):  # not computed (or a fitness check before the run): no value; inf is a value
        outcome = INCONCLUSIVE if bounded else INFO
        return Measurement(name, value, unit, low, high, u, source, outcome, tur, min_tur)
    outcome = decide(value, low, high, u)
    if outcome == PASS and tur is not None and min_tur is not None and tur < min_tur:
        outcome = INCONCLUSIVE
    return Measurement(name, value, unit, low, high, u, source, outcome, tur, min_tur)


def _judgeable(low: float | None, high: float | None, uncertainty: float, min_tur: float | None) -> bool:
    """Whether the decision rule can be applied: a finite U, and limits and required TUR that are numbers
    (a NaN compares False with everything, so it would silently switch a check off)."""
    limits = [x for x in (low, high, min_tur) if x is not None]
    return math.isfinite(uncertainty) and not any(math.isnan(x) for x in limits)
