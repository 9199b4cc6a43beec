"""A test's verdict, decided in one place from how its call ended and what it measured.

PASS only when the test ran to its end and every acceptance bound of its requirement has a finite measurement
inside it. Anything else names what happened and who is to blame: the product (the pump failed a requirement),
the rig (an instrument, a link, or a rig too coarse for the bound) or the test (a defect in the suite).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hil.errors import DeviceRefused, RigError
from hil.evidence.measurements import Measurement, Outcome
from hil.evidence.per_test import Inconclusive, MetricMissing


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"  # the product did not meet the requirement
    INCONCLUSIVE = "INCONCLUSIVE"  # the rig could not resolve a bound (straddled, unfit or not computed)
    ERROR = "ERROR"  # the test could not judge: a rig fault or a defect in the test
    INTERRUPTED = "INTERRUPTED"  # a signal or Ctrl-C ended the test before its end
    SKIPPED = "SKIPPED"

    @property
    def outcome(self) -> str:
        """pytest's word for it, as in the record's `outcome` field."""
        return {
            Verdict.PASS: "passed",
            Verdict.FAIL: "failed",
            Verdict.INCONCLUSIVE: "failed",
            Verdict.ERROR: "error",
            Verdict.INTERRUPTED: "interrupted",
            Verdict.SKIPPED: "skipped",
        }[self]


NOT_RUN = "NOT RUN"  # a selected test that never started: no verdict of its own


def shown_word(test: dict | None) -> str:
    """The word a report gives a selected test from its record entry: its verdict; INTERRUPTED when it started
    (it has phases) but ended without one (its harness was killed); NOT RUN when it never started."""
    test = test or {}
    return test.get("verdict") or (Verdict.INTERRUPTED if test.get("phases") else NOT_RUN)


class FailureClass(StrEnum):
    PRODUCT = "product"
    RIG = "rig"
    TEST = "test"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    failure_class: FailureClass | None
    reason: str

    def as_record(self) -> dict:
        return {
            "verdict": self.verdict,
            "outcome": self.verdict.outcome,
            "failure_class": self.failure_class,
            "reason": self.reason,
        }


def classify(exc: BaseException) -> FailureClass:
    """Who failed: the rig (instrument, transport, broken rig, or an instrument too coarse for the bound:
    INCONCLUSIVE), the product (a measurement outside its limits, a state it never reached, a command it
    refused) or the test (anything else: an error in the suite)."""
    if isinstance(exc, (RigError, Inconclusive)):
        return FailureClass.RIG
    if isinstance(exc, (AssertionError, DeviceRefused)):
        return FailureClass.PRODUCT
    return FailureClass.TEST


def judge(
    bounds: Iterable[str],
    measurements: list[Measurement],
    *,
    ran_to_end: bool,
    error: BaseException | None = None,
    skipped: str | None = None,
    rig_broken: bool = False,
    interrupted: str | None = None,
) -> Judgement:
    """bounds: the names of the acceptance bounds of the test's requirements; ran_to_end: the call phase
    returned; error: the first exception of its setup, call or teardown; skipped: the skip reason (rig_broken:
    skipped because an earlier fault broke the rig); interrupted: the signal that ended the run meanwhile."""
    if skipped is not None:
        return Judgement(Verdict.SKIPPED, FailureClass.RIG if rig_broken else None, skipped)
    if interrupted is not None or isinstance(error, KeyboardInterrupt):
        return Judgement(Verdict.INTERRUPTED, None, f"interrupted by {interrupted or type(error).__name__}")
    failed = [m for m in measurements if m.outcome == Outcome.FAIL]
    if error is not None and not isinstance(error, AssertionError | DeviceRefused):
        return Judgement(Verdict.ERROR, classify(error), f"{type(error).__name__}: {error}")
    if failed:
        return Judgement(Verdict.FAIL, FailureClass.PRODUCT, _listed(failed))
    if error is not None and not isinstance(error, Inconclusive):
        return Judgement(Verdict.FAIL, classify(error), f"{type(error).__name__}: {error}")
    unresolved = [m for m in measurements if m.outcome == Outcome.INCONCLUSIVE]
    if unresolved:
        return Judgement(Verdict.INCONCLUSIVE, FailureClass.RIG, _listed(unresolved))
    if error is not None:  # Inconclusive without a measurement to show for it
        return Judgement(Verdict.INCONCLUSIVE, FailureClass.RIG, str(error))
    if not ran_to_end:
        return Judgement(Verdict.ERROR, FailureClass.TEST, "the test did not run to its end")
    bounds = list(bounds)
    measured = {m.name: m for m in measurements}
    missing = [name for name in bounds if name not in measured]
    if missing:
        return Judgement(Verdict.ERROR, FailureClass.TEST, f"no measurement for bound(s) {', '.join(missing)}")
    if not bounds:
        return Judgement(Verdict.ERROR, FailureClass.TEST, "the requirement has no acceptance bound to judge")
    unjudged = [name for name in bounds if measured[name].outcome != Outcome.PASS]
    if unjudged:  # a bound recorded without its limits (INFO) decided nothing
        return Judgement(
            Verdict.ERROR, FailureClass.TEST, f"bound(s) {', '.join(unjudged)} not judged against their limits"
        )
    infinite = [measured[name] for name in bounds if not math.isfinite(measured[name].value)]
    if infinite:
        return Judgement(Verdict.INCONCLUSIVE, FailureClass.RIG, "not a finite value: " + _listed(infinite))
    return Judgement(Verdict.PASS, None, f"every bound met ({len(bounds)})")


def exception_for(judgement: Judgement) -> BaseException:
    """What a test that returned normally raises when its verdict is not PASS, so pytest, Allure and the
    record tell the same story."""
    kind = {Verdict.FAIL: AssertionError, Verdict.INCONCLUSIVE: Inconclusive}.get(judgement.verdict, MetricMissing)
    return kind(f"verdict {judgement.verdict}: {judgement.reason}")


def _listed(measurements: list[Measurement]) -> str:
    return "; ".join(m.summary() for m in measurements)
