"""A test's verdict (hil.evidence.verdict.judge): PASS only when it ran to its end and every bound of its
requirement has a finite measurement inside it."""

import math

import pytest

from hil.analysis.metric import Metric
from hil.errors import DeviceRefused, TransportError
from hil.evidence.measurements import measurement
from hil.evidence.per_test import Inconclusive, MetricMissing, TestEvidence, UnitMismatch
from hil.evidence.verdict import FailureClass, Verdict, exception_for, judge
from hil.rig.abort import Interrupted
from hil.specs import load_requirements

OK = measurement("a", 1, "%", 0, 2)
BAD = measurement("b", 3, "%", 0, 2)
UNSURE = measurement("b", 1.9, "%", 0, 2, uncertainty=0.5)
INFO_ONLY = measurement("c", 1, "%")


def _verdict(bounds, measurements, **kw):
    kw.setdefault("ran_to_end", True)
    return judge(bounds, measurements, **kw)


def test_every_bound_met_to_the_end_is_pass():
    assert _verdict(["a"], [OK, INFO_ONLY]).verdict == Verdict.PASS


def test_no_measurement_is_never_pass():
    judgement = _verdict(["a"], [])
    assert (judgement.verdict, judgement.failure_class) == (Verdict.ERROR, FailureClass.TEST)
    assert "no measurement for bound(s) a" in judgement.reason
    assert _verdict([], []).verdict == Verdict.ERROR  # nothing to judge is not a pass either


def test_a_bound_without_its_measurement_is_an_error_of_the_test():
    judgement = _verdict(["a", "b"], [OK])
    assert judgement.verdict == Verdict.ERROR and "bound(s) b" in judgement.reason


def test_nan_is_inconclusive_and_inf_inside_a_one_sided_bound_is_not_pass():
    nan = measurement("a", math.nan, "%", 0, 2)
    assert _verdict(["a"], [nan]).verdict == Verdict.INCONCLUSIVE
    inf = measurement("a", math.inf, "min", 10, None)
    judgement = _verdict(["a"], [inf])
    assert (judgement.verdict, judgement.failure_class) == (Verdict.INCONCLUSIVE, FailureClass.RIG)


def test_an_unknown_uncertainty_or_limit_is_never_pass():
    # The readability-NaN false PASS of issue 11: value ± NaN compared with a limit is always False.
    outside = measurement("bolus_mean_error", 8.0, "%", -5, 5, uncertainty=math.nan, min_tur=4)
    inside = measurement("bolus_mean_error", 0.4, "%", -5, 5, uncertainty=math.inf)
    no_fitness = measurement("bolus_mean_error", 0.4, "%", -5, 5, uncertainty=0.1, min_tur=math.nan)
    nan_limit = measurement("time_to_alarm", 500.0, "min", high=math.nan)
    for m in (outside, inside, no_fitness, nan_limit):
        assert m.outcome == "INCONCLUSIVE" and "not a finite number" in m.summary(), m
        assert _verdict([m.name], [m]).verdict == Verdict.INCONCLUSIVE


def test_a_bound_recorded_without_its_limits_is_not_pass():
    reported = measurement("a", 1, "%")  # the bound's name, but no limits: INFO decides nothing
    judgement = _verdict(["a"], [reported])
    assert judgement.verdict == Verdict.ERROR and "not judged against their limits" in judgement.reason


def test_the_worst_measurement_decides():
    assert _verdict(["a", "b"], [OK, UNSURE]).verdict == Verdict.INCONCLUSIVE
    judgement = _verdict(["a", "b"], [OK, BAD], error=AssertionError("1 of 2 not passed"), ran_to_end=False)
    assert (judgement.verdict, judgement.failure_class) == (Verdict.FAIL, FailureClass.PRODUCT)


def test_errors_timeouts_and_interrupts_are_never_pass():
    rig = _verdict(["a"], [OK], error=TransportError("link lost"), ran_to_end=False)
    assert (rig.verdict, rig.failure_class) == (Verdict.ERROR, FailureClass.RIG)
    bug = _verdict(["a"], [OK], error=KeyError("poll_s"), ran_to_end=False)
    assert (bug.verdict, bug.failure_class) == (Verdict.ERROR, FailureClass.TEST)
    slow = _verdict(["a"], [], error=AssertionError("bolus: pump still delivering 60 s after"), ran_to_end=False)
    assert (slow.verdict, slow.failure_class) == (Verdict.FAIL, FailureClass.PRODUCT)
    refused = _verdict(["a"], [], error=DeviceRefused("pump", "NOT_ALLOWED"), ran_to_end=False)
    assert refused.verdict == Verdict.FAIL
    stopped = _verdict(["a"], [OK], ran_to_end=False, interrupted="SIGTERM")
    assert (stopped.verdict, stopped.reason) == (Verdict.INTERRUPTED, "interrupted by SIGTERM")
    assert _verdict(["a"], [OK], error=Interrupted(2), ran_to_end=False).verdict == Verdict.INTERRUPTED
    assert _verdict(["a"], [OK], ran_to_end=False).verdict == Verdict.ERROR


def test_an_unfit_rig_is_inconclusive_even_before_any_measurement():
    judgement = _verdict(["a"], [], error=Inconclusive("TUR 2 < 4"), ran_to_end=False)
    assert (judgement.verdict, judgement.failure_class) == (Verdict.INCONCLUSIVE, FailureClass.RIG)


def test_skips_and_broken_rig_skips():
    assert _verdict(["a"], [], skipped="no valve").failure_class is None
    broken = _verdict(["a"], [], skipped="rig broken: x", rig_broken=True)
    assert (broken.verdict, broken.failure_class) == (Verdict.SKIPPED, FailureClass.RIG)


@pytest.mark.parametrize("bounds, measurements, kind", [
    (["a", "b"], [OK, BAD], AssertionError), (["a", "b"], [OK, UNSURE], Inconclusive), (["a"], [], MetricMissing)])
def test_a_returned_test_that_did_not_pass_raises_what_judges_it_again_the_same(bounds, measurements, kind):
    first = _verdict(bounds, measurements)
    exc = exception_for(first)
    assert isinstance(exc, kind)
    again = judge(bounds, measurements, ran_to_end=False, error=exc)
    assert (again.verdict, again.failure_class) == (first.verdict, first.failure_class)


def test_the_record_reads_as_plain_words():
    record = _verdict(["a"], [OK]).as_record()
    assert record == {"verdict": "PASS", "outcome": "passed", "failure_class": None, "reason": "every bound met (1)"}
    assert _verdict(["a"], [], ran_to_end=False, interrupted="SIGINT").as_record()["outcome"] == "interrupted"


REQ = load_requirements()["OC-ALARM-001"]


def _metrics(unit_of):
    return {b.name: Metric(1.0, unit_of(b), 0.0) for b in REQ.acceptance}


def test_judge_refuses_a_bare_tuple_for_a_metric_a_defect_of_the_test_never_a_verdict(tmp_path):
    metrics = _metrics(lambda b: b.unit) | {"extra": (1.0, "U", 0.0)}
    with pytest.raises(TypeError, match="OC-ALARM-001: not a Metric \\(value, unit, U\\): extra"):
        TestEvidence(tmp_path).judge(REQ, metrics)


def test_judge_converts_a_metric_to_its_bounds_unit(tmp_path):
    minutes = [b for b in REQ.acceptance if b.unit == "min"]
    assert minutes, "OC-ALARM-001 has a bound in minutes"
    evidence = TestEvidence(tmp_path)
    evidence.judge(REQ, _metrics(lambda b: "s" if b.unit == "min" else b.unit))
    converted = next(m for m in evidence.measurements if m.name == minutes[0].name)
    assert (converted.value, converted.unit) == (pytest.approx(1 / 60), "min")


def test_judge_refuses_a_unit_it_cannot_convert(tmp_path):
    with pytest.raises(UnitMismatch, match=r"OC-ALARM-001 .*computed in 'kg', bound in 'min'"):
        TestEvidence(tmp_path).judge(REQ, _metrics(lambda b: "kg" if b.unit == "min" else b.unit))


# Mutation testing (scripts/mutation.sh, docs/validation.md): exact words of the record and of the reasons,
# and each branch of judge() with the measurement or error that decides it.

def test_verdicts_and_failure_classes_read_as_the_record_writes_them():
    assert [str(v) for v in Verdict] == ["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "INTERRUPTED", "SKIPPED"]
    assert [v.outcome for v in Verdict] == ["passed", "failed", "failed", "error", "interrupted", "skipped"]
    assert [str(c) for c in FailureClass] == ["product", "rig", "test"]


def test_classify_names_who_failed():
    from hil.evidence.verdict import classify

    assert classify(TransportError("x")) == FailureClass.RIG
    assert classify(Inconclusive("x")) == FailureClass.RIG
    assert classify(AssertionError("x")) == FailureClass.PRODUCT
    assert classify(DeviceRefused("pump", "NOT_ALLOWED")) == FailureClass.PRODUCT
    assert classify(KeyError("x")) == FailureClass.TEST


@pytest.mark.parametrize("kw, expected", [
    (dict(bounds=["a"], measurements=[OK]), ("PASS", None, "every bound met (1)")),
    (dict(bounds=["a", "b"], measurements=[OK, measurement("b", 1, "%", 0, 2)]), ("PASS", None, "every bound met (2)")),
    (dict(bounds=["a"], measurements=[], skipped="no valve"), ("SKIPPED", None, "no valve")),
    (dict(bounds=["a"], measurements=[], skipped="rig broken", rig_broken=True), ("SKIPPED", "rig", "rig broken")),
    (dict(bounds=["a"], measurements=[OK], error=KeyboardInterrupt(), ran_to_end=False),
     ("INTERRUPTED", None, "interrupted by KeyboardInterrupt")),
    (dict(bounds=["a"], measurements=[BAD], error=KeyError("poll_s"), ran_to_end=False),
     ("ERROR", "test", "KeyError: 'poll_s'")),
    (dict(bounds=["a"], measurements=[BAD, OK]), ("FAIL", "product", "b = 3 %, limits [0, 2] %: FAIL")),
    (dict(bounds=["a", "b"], measurements=[BAD, measurement("c", 5, "%", 0, 2)]),
     ("FAIL", "product", "b = 3 %, limits [0, 2] %: FAIL; c = 5 %, limits [0, 2] %: FAIL")),
    (dict(bounds=["a"], measurements=[OK], error=AssertionError("late"), ran_to_end=False),
     ("FAIL", "product", "AssertionError: late")),
    (dict(bounds=["a"], measurements=[OK], error=DeviceRefused("pump", "NOT_ALLOWED"), ran_to_end=False),
     ("FAIL", "product", None)),
    (dict(bounds=["b"], measurements=[UNSURE, BAD]), ("FAIL", "product", "b = 3 %, limits [0, 2] %: FAIL")),
    (dict(bounds=["b"], measurements=[UNSURE], error=Inconclusive("TUR 2 < 4"), ran_to_end=False),
     ("INCONCLUSIVE", "rig", UNSURE.summary())),
    (dict(bounds=["a"], measurements=[OK], error=Inconclusive("TUR 2 < 4"), ran_to_end=False),
     ("INCONCLUSIVE", "rig", "TUR 2 < 4")),
    (dict(bounds=["a"], measurements=[OK], ran_to_end=False), ("ERROR", "test", "the test did not run to its end")),
    (dict(bounds=["a", "b", "c"], measurements=[OK]), ("ERROR", "test", "no measurement for bound(s) b, c")),
    (dict(bounds=[], measurements=[OK]), ("ERROR", "test", "the requirement has no acceptance bound to judge")),
    (dict(bounds=["a", "c", "d"], measurements=[OK, INFO_ONLY, measurement("d", 1, "%")]),
     ("ERROR", "test", "bound(s) c, d not judged against their limits")),
    (dict(bounds=["a", "t"], measurements=[OK, measurement("t", math.inf, "min", 10, None)]),
     ("INCONCLUSIVE", "rig", "not a finite value: t = inf min, limits ≥ 10 min: PASS")),
])
def test_each_branch_of_the_verdict_with_its_reason(kw, expected):
    kw.setdefault("ran_to_end", True)
    judgement = judge(kw.pop("bounds"), kw.pop("measurements"), **kw)
    verdict, failure_class, reason = expected
    assert (judgement.verdict, judgement.failure_class) == (verdict, failure_class)
    if reason is not None:
        assert judgement.reason == reason


def test_bounds_may_be_any_iterable_read_once():
    assert judge(iter(["a"]), [OK], ran_to_end=True).reason == "every bound met (1)"
    assert judge((b for b in ["a", "z"]), [OK], ran_to_end=True).reason == "no measurement for bound(s) z"


def test_the_exception_of_a_verdict_carries_the_verdict_and_its_reason():
    failed = exception_for(judge(["b"], [BAD], ran_to_end=True))
    assert type(failed) is AssertionError and str(failed) == "verdict FAIL: b = 3 %, limits [0, 2] %: FAIL"
    unsure = exception_for(judge(["b"], [UNSURE], ran_to_end=True))
    assert type(unsure) is Inconclusive and str(unsure).startswith("verdict INCONCLUSIVE: b = 1.9 ± 0.5 %")
    missing = exception_for(judge(["a"], [], ran_to_end=True))
    assert type(missing) is MetricMissing and str(missing) == "verdict ERROR: no measurement for bound(s) a"


def test_the_record_of_a_failure_names_its_class():
    assert judge(["b"], [BAD], ran_to_end=True).as_record() == {
        "verdict": "FAIL", "outcome": "failed", "failure_class": "product", "reason": "b = 3 %, limits [0, 2] %: FAIL"}


def test_a_judgement_cannot_be_edited_afterwards():
    import dataclasses

    judgement = judge(["b"], [BAD], ran_to_end=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        judgement.verdict = Verdict.PASS
