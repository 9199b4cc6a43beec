"""Occlusion metrics (hil.analysis.occlusion): known answers. Added for mutation testing
(scripts/mutation.sh, docs/validation.md); the module had no unit test of its own."""

import math

import numpy as np

from hil.analysis.occlusion import balance_stroke_count, missed_U, time_to_alarm_min


def test_time_to_alarm_in_minutes_and_no_alarm_is_infinite():
    assert time_to_alarm_min(600.0, 780.0) == 3.0
    assert time_to_alarm_min(600.0, None) == math.inf


def test_missed_units_are_what_the_pump_counted_and_did_not_arrive():
    assert missed_U(1.0, 0.25) == 0.75
    assert missed_U(0.5, 0.75) == -0.25


def test_balance_stroke_count_counts_the_rises_above_the_threshold():
    t = np.arange(12.0) * 5.0
    delivered = np.array([0, 0, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15, 0.15])
    assert balance_stroke_count(t, delivered, 0.02) == 3
    assert balance_stroke_count(t, delivered, 0.06) == 0
