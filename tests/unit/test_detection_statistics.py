"""Confidence limits for detection statistics, against published tables and their defining properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.analysis.detection import delay_summary, poisson_upper, wilson_lower, wilson_upper


def test_poisson_upper_limits_match_the_table():
    # one-sided 95 %: 0 events → 2.996, 1 → 4.744, 5 → 10.51 (Garwood; e.g. Gehrels 1986 Table 1, CL 0.95)
    assert poisson_upper(0, 1.0) == pytest.approx(2.996, abs=1e-3)
    assert poisson_upper(1, 1.0) == pytest.approx(4.744, abs=1e-3)
    assert poisson_upper(5, 1.0) == pytest.approx(10.513, abs=1e-3)
    assert poisson_upper(0, 12.0) == pytest.approx(2.996 / 12, abs=1e-4)  # 12 clean days: 0.25/day


def test_wilson_lower_limits():
    assert wilson_lower(20, 20) == pytest.approx(0.8808, abs=1e-4)  # z = 1.645: n / (n + z²)
    assert wilson_lower(0, 20) == 0.0
    assert wilson_lower(15, 20) < 0.75 < wilson_lower(15, 20) + 0.2
    assert math.isnan(wilson_lower(0, 0))


def test_wilson_upper_limits():
    # no failure in 20 runs: z² / (n + z²) with z = 1.6449 (one-sided 95 %), 2.7055 / 22.7055
    assert wilson_upper(0, 20) == pytest.approx(0.11916, abs=1e-5)
    assert wilson_upper(20, 20) == 1.0
    assert wilson_upper(5, 20) == pytest.approx(1 - wilson_lower(15, 20), abs=1e-12)
    assert math.isnan(wilson_upper(0, 0))


@given(st.integers(0, 50), st.integers(1, 50))
def test_the_upper_limit_never_falls_below_the_observed_share(k, extra):
    n = k + extra
    assert k / n <= wilson_upper(k, n) <= 1.0


@given(st.integers(0, 50), st.integers(1, 50))
def test_the_lower_limit_never_exceeds_the_observed_share(k, extra):
    n = k + extra
    assert 0.0 <= wilson_lower(k, n) <= k / n


@given(st.integers(0, 30), st.floats(0.5, 100))
def test_the_upper_limit_is_above_the_observed_rate_and_falls_with_exposure(k, days):
    assert poisson_upper(k, days) > k / days
    assert poisson_upper(k, 2 * days) < poisson_upper(k, days)


def test_delay_summary_ignores_missed_trials():
    assert delay_summary([10, 20, math.inf, 30]) == {"median": 20.0, "p90": 28.0, "max": 30.0}
    assert math.isnan(delay_summary([math.inf])["median"])


# Mutation testing (scripts/mutation.sh, docs/validation.md): exact values and the edges.

def test_wilson_lower_known_answers():
    # (p + z²/2n − z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), z = 1.6449 (one-sided 95 %), by hand
    assert wilson_lower(15, 20) == pytest.approx(0.56780, abs=1e-5)
    assert wilson_lower(1, 20) == pytest.approx(0.011235, abs=1e-6)
    assert wilson_lower(19, 20) == pytest.approx(0.80399, abs=1e-5)
    assert wilson_lower(20, 20, confidence=0.5) == 1.0  # z = 0: the share itself
    assert math.isnan(wilson_lower(1, -1))


def test_poisson_upper_edges():
    assert poisson_upper(2, 4.0) == pytest.approx(6.296 / 4.0, abs=1e-3)  # Gehrels 1986: 6.296 for 2 events
    assert poisson_upper(0, 1.0, confidence=0.5) == pytest.approx(math.log(2), rel=1e-9)
    assert math.isnan(poisson_upper(0, 0.0)) and math.isnan(poisson_upper(1, -1.0))


def test_delay_summary_of_nothing_detected_is_all_nan():
    empty = delay_summary([])
    assert set(empty) == {"median", "p90", "max"} and all(math.isnan(v) for v in empty.values())
    assert all(math.isnan(v) for v in delay_summary([math.inf, math.nan]).values())
    assert delay_summary([5.0]) == {"median": 5.0, "p90": 5.0, "max": 5.0}
    assert delay_summary(range(1, 11)) == {"median": 5.5, "p90": pytest.approx(9.1), "max": 10.0}
