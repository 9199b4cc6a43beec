"""Confidence limits for detection statistics, against published tables and their defining properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.analysis.detection import delay_summary, poisson_upper, wilson_lower


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
