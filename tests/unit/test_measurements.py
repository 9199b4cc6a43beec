import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.evidence.measurements import FAIL, INCONCLUSIVE, INFO, PASS, Outcome, decide, measurement


@pytest.mark.parametrize("value, low, high, u, expected", [
    (0.0, -5, 5, 1, PASS), (4.5, -5, 5, 1, INCONCLUSIVE), (6.5, -5, 5, 1, FAIL), (-5.5, -5, 5, 1, INCONCLUSIVE),
    (-6.5, -5, 5, 1, FAIL), (100, 80, None, 0, PASS), (79.9, 80, None, 0, FAIL), (1.0, None, 0.12, 0, FAIL),
    (math.nan, 0, 1, 0, INCONCLUSIVE), (3.0, None, None, 0, INFO),
])
def test_decision_rule(value, low, high, u, expected):
    assert decide(value, low, high, u) == expected


@given(value=st.floats(-1e6, 1e6), low=st.floats(-1e3, 0), high=st.floats(0, 1e3), u=st.floats(0, 1e3))
def test_guard_band_is_monotone(value, low, high, u):
    # A wider uncertainty can turn PASS or FAIL into INCONCLUSIVE, never PASS into FAIL or back.
    narrow, wide = decide(value, low, high, 0.0), decide(value, low, high, u)
    assert wide == narrow or wide == INCONCLUSIVE


def test_outcomes_are_an_enum_that_reads_as_its_name_in_json():
    bad = measurement("c", 3, "%", 0, 2)
    assert bad.outcome is Outcome.FAIL and bad.as_dict()["outcome"] == "FAIL"
    assert "limits [0, 2] %: FAIL" in bad.summary()


def test_the_fitness_check_makes_an_unresolvable_two_sided_bound_inconclusive_never_pass():
    from hil.evidence.measurements import measurement

    fit = measurement("overall_error", 1.0, "%", -5, 5, uncertainty=1.0, min_tur=4)  # TUR 5
    unfit = measurement("overall_error", 1.0, "%", -5, 5, uncertainty=1.5, min_tur=4)  # TUR 3.3, inside
    outside = measurement("overall_error", 9.0, "%", -5, 5, uncertainty=1.5, min_tur=4)
    assert (fit.outcome, unfit.outcome, outside.outcome) == ("PASS", "INCONCLUSIVE", "FAIL")
    assert "test uncertainty ratio 3.3 < 4" in unfit.summary()
    assert measurement("bolus_max", 0.05, "U", None, 0.119, uncertainty=0.05, min_tur=4).outcome == "PASS"


def test_an_infinite_value_is_a_value_and_fails_an_upper_bound():
    from hil.evidence.measurements import measurement

    assert measurement("escalation_delay", float("inf"), "min", None, 10, uncertainty=0.5, min_tur=4).outcome == "FAIL"
    assert measurement("time_to_alarm", float("nan"), "min", None, 180).outcome == "INCONCLUSIVE"
