"""The blank run's evaporation rate and its uncertainty (gravimetry.blank_run): known answers."""

import numpy as np
import pytest

from hil.analysis.gravimetry import blank_run


def test_a_steady_loss_gives_its_rate_and_no_spread():
    t = np.arange(0, 6 * 3600 + 1, 60.0)
    rate, u, segments = blank_run(t, 35_000.0 - 0.2 * t / 3600.0)
    assert rate == pytest.approx(0.2, rel=1e-9) and u == pytest.approx(0.0, abs=1e-9) and segments == 6


def test_the_uncertainty_is_the_spread_of_the_hourly_rates():
    t = np.arange(0, 4 * 3600 + 1, 60.0)
    hourly = np.array([0.1, 0.3, 0.1, 0.3])  # mg/h in hours 1-4
    loss = np.concatenate([[0.0], np.cumsum(np.repeat(hourly, 60) / 60.0)])
    rate, u, segments = blank_run(t, 35_000.0 - loss)
    assert segments == 4 and u == pytest.approx(np.std(hourly, ddof=1), rel=1e-6)  # 0.1155 mg/h
    assert rate == pytest.approx(0.2, abs=0.02)


def test_too_short_or_broken_runs_are_refused():
    with pytest.raises(ValueError, match="two whole segments"):
        blank_run(np.arange(0, 3600 + 1, 60.0), np.zeros(61))
    with pytest.raises(ValueError, match="finite"):
        blank_run([0.0, 60.0, float("nan")], [1.0, 1.0, 1.0])
