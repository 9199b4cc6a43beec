"""The harness's insulin on board (hil/analysis/insulin_on_board.py): oref0's exponential curve against its own
activity curve integrated, and the net insulin on board of a weighed record against doses of known size."""

import math

import numpy as np
import pytest
from scipy import integrate

from hil.analysis.insulin_on_board import DURATION_MIN, PEAK_MIN, net_iob, remaining_share


def _activity(minutes: float) -> float:
    """oref0's activity for 1 U (lib/iob/calculate.js, activityContrib), per minute."""
    tp, td = PEAK_MIN, DURATION_MIN
    tau = tp * (1 - tp / td) / (1 - 2 * tp / td)
    a = 2 * tau / td
    s = 1 / (1 - a + (1 + a) * math.exp(-td / tau))
    return s / tau**2 * minutes * (1 - minutes / td) * math.exp(-minutes / tau)


def test_the_share_on_board_is_one_less_the_activity_so_far():
    minutes = np.array([0.0, 10, 30, 75, 150, 240, 299.9])
    absorbed = np.array([integrate.quad(_activity, 0, m)[0] for m in minutes])
    assert remaining_share(minutes) == pytest.approx(1 - absorbed, abs=1e-9)
    assert list(remaining_share([-5.0, DURATION_MIN, 400.0])) == [1.0, 0.0, 0.0]


def test_a_bolus_on_a_profile_basal_is_on_board_by_the_curve_and_the_basal_is_not():
    t = np.arange(0.0, 6 * 3600.0 + 1, 60.0)
    profile = 1.0  # U/h, delivered evenly
    cumulative = profile * t / 3600.0
    cumulative[t >= 600.0] += 2.0  # a 2 U bolus between the samples at 540 and 600 s
    iob = net_iob(t, cumulative, profile)
    assert iob[:10] == pytest.approx(0.0, abs=1e-12)  # the profile is not insulin on board
    for minutes in (30, 90, 200):
        k = int(np.searchsorted(t, 570.0 + minutes * 60.0))
        assert iob[k] == pytest.approx(2.0 * float(remaining_share((t[k] - 570.0) / 60.0)), rel=1e-9)
    assert iob[-1] == pytest.approx(0.0, abs=1e-12)  # five hours on, all of it has acted


def test_less_than_the_profile_is_negative_insulin_on_board():
    t = np.arange(0.0, 3600.0 + 1, 60.0)
    iob = net_iob(t, np.zeros_like(t), 1.0)  # the pump delivered nothing for an hour of a 1 U/h profile
    assert iob[-1] < -0.5 and np.all(np.diff(iob) <= 1e-12)
