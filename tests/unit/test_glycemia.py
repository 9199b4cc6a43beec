"""Hypoglycaemia exposure: known answers and the properties the effect requirement relies on."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hil.analysis.glycemia import area_below, reduction_pct, time_below, time_in_range


def test_known_answers():
    trace = [80, 69, 60, 70, 75, 50]
    assert time_below(trace, 1.0) == 3.0  # 69, 60, 50; 70 itself is not below
    assert area_below(trace, 1.0) == 1 + 10 + 20
    assert time_below(trace, 5.0) == 15.0 and area_below(trace, 5.0) == 155.0
    assert time_below(trace, 1.0, threshold=54) == 1.0


def test_reduction_against_the_trials():
    assert reduction_pct(3.1, 4.5) == (4.5 - 3.1) / 4.5 * 100  # PROLOG: -31 %
    assert round(reduction_pct(980, 1568), 1) == 37.5  # ASPIRE event AUC
    assert reduction_pct(10, 5) == -100.0  # worse with the feature: a negative reduction
    assert math.isnan(reduction_pct(0, 0))


glucose = st.lists(st.floats(20, 400), min_size=1, max_size=200)


@given(glucose, st.floats(0, 100))
def test_raising_a_trace_never_adds_exposure(trace, lift):
    raised = list(np.asarray(trace) + lift)
    assert time_below(raised, 1.0) <= time_below(trace, 1.0)
    assert area_below(raised, 1.0) <= area_below(trace, 1.0) + 1e-9


@given(glucose)
def test_area_is_bounded_by_time_and_depth(trace):
    depth = max(0.0, 70 - min(trace))
    assert area_below(trace, 1.0) <= time_below(trace, 1.0) * depth + 1e-9
    assert (area_below(trace, 1.0) > 0) == (time_below(trace, 1.0) > 0)


# Mutation testing (scripts/mutation.sh, docs/validation.md): the defaults and the edges.

def test_the_default_threshold_is_70_and_the_edges():
    from hil.analysis.glycemia import HYPO_MG_DL

    assert HYPO_MG_DL == 70.0
    assert time_below([69.9, 70.0, 70.1], 1.0) == 1.0 and area_below([69.5, 70.0, 71.0], 2.0) == 1.0
    assert area_below([80.0, 90.0], 1.0) == 0.0 and time_below([], 5.0) == 0.0
    assert math.isnan(reduction_pct(1.0, 0.0)) and math.isnan(reduction_pct(1.0, -2.0))
    assert reduction_pct(0.0, 0.5) == 100.0


def test_time_in_range_known_answers():
    trace = [69.9, 70, 120, 180, 180.1, 250]
    assert time_in_range(trace, 1.0) == 3.0  # 70 and 180 are in range
    assert time_in_range(trace, 5.0) == 15.0
    assert time_in_range(trace, 1.0, low=54, high=250) == 6.0


def test_an_event_is_a_run_at_or_below_the_threshold_longer_than_the_duration():
    """ASPIRE In-Home's nocturnal event: ≤ 65 mg/dL for more than 20 min, its area below 65 (5-min sensor values)."""
    from hil.analysis.glycemia import event_area_below

    four = [70, 65, 60, 60, 65, 70]  # 4 values at or below: 20 min, not more
    five = [70, 65, 60, 60, 60, 65, 70]  # 25 min: an event of area (0 + 5 + 5 + 5 + 0) × 5
    assert event_area_below(four, 5.0, 65.0, 20.0) == 0.0
    assert event_area_below(five, 5.0, 65.0, 20.0) == 75.0
    assert event_area_below(five + four + five, 5.0, 65.0, 20.0) == 150.0
    assert event_area_below([60.0] * 5, 5.0, 65.0, 20.0) == 125.0  # an event the trace ends in counts
