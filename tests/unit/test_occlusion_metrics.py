"""Occlusion metrics (hil.analysis.occlusion) and the check that a block held (hil.procedures.occlusion): known answers. Added for mutation testing
(scripts/mutation.sh, docs/validation.md); the module had no unit test of its own."""

import math

import numpy as np
import pytest

from hil.analysis.occlusion import balance_stroke_count, missed_U, time_to_alarm_min
from hil.errors import BlockNotHeld
from hil.procedures.occlusion import SinceBlock, confirm_block


def test_time_to_alarm_in_minutes_and_no_alarm_is_infinite():
    assert time_to_alarm_min(600.0, 780.0) == 3.0
    assert time_to_alarm_min(600.0, None) == math.inf


def test_missed_units_are_what_the_pump_counted_and_did_not_arrive():
    assert missed_U(1.0, 0.25) == 0.75
    assert missed_U(0.5, 0.75) == -0.25


def test_balance_stroke_count_counts_the_rises_above_the_noise_floor():
    t = np.arange(12.0) * 5.0
    delivered = np.array([0, 0, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15, 0.15])
    assert balance_stroke_count(t, delivered, u_difference_U=0.004) == 3  # 0.05 U rises over a 0.02 U floor
    assert balance_stroke_count(t, delivered, u_difference_U=0.012) == 0  # under a 0.06 U floor: noise


def test_a_small_step_under_the_counting_threshold_of_large_strokes_is_still_seen_where_none_should_be():
    """A pump of 0.025 U steps that keeps stepping after its alarm: each step rises 0.018-0.022 U in its first
    sample, under the 10 u (0.021 U) a 0.05 U stroke is counted by, but far above the 5 u noise floor."""
    t = np.arange(40.0) * 30.0
    steps = np.repeat([0.018, 0.022, 0.019, 0.021, 0.020], 1)
    delivered = np.zeros(t.size)
    for k, rise in enumerate(steps):
        delivered[3 * k + 2:] += rise
    assert balance_stroke_count(t, delivered, u_difference_U=0.0021) == 5


def test_a_block_is_blamed_on_the_valve_only_when_the_balance_shows_it_beyond_its_uncertainty():
    confirm_block(SinceBlock(pumped_U=6.0, arrived_U=0.65, U=1.18), commanded_U=6.0)  # 120 h at 0.05 U/h: cannot tell
    confirm_block(SinceBlock(pumped_U=0.0, arrived_U=0.001, U=0.002), commanded_U=10.0)  # a bolus never delivered
    with pytest.raises(BlockNotHeld, match=r"weighed 9\.018 ± 0\.010 U .* counted 9\.000 U and was commanded 9\.000 U"):
        confirm_block(SinceBlock(pumped_U=9.0, arrived_U=9.018, U=0.01), commanded_U=9.0)
    with pytest.raises(BlockNotHeld):  # a pump that counts nothing is held to what it was commanded
        confirm_block(SinceBlock(pumped_U=0.0, arrived_U=2.0, U=0.01), commanded_U=10.0)
