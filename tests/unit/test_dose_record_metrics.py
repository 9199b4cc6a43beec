"""Known answers for the metrics that compare the pump's own record with the balance, the mean of small boluses
and the delivery time of a bolus that did not end in time (hil.analysis.dose_metrics)."""

import math

import numpy as np
import pytest

from hil.analysis import dose_metrics
from hil.specs.metrics import METRICS


def test_record_disagreement_is_weighed_against_recorded_in_percent_of_the_record():
    value, unit, U = dose_metrics.record_disagreement_pct(0.9, 1.0, 0.01)
    assert unit == "%" and value == pytest.approx(-10.0) and U == pytest.approx(1.0)


def test_record_disagreement_without_a_record_or_a_command_is_not_a_number():
    value, _, U = dose_metrics.record_disagreement_pct(0.1, 0.0, 0.01)
    assert math.isnan(value) and math.isnan(U)


def test_a_pump_that_records_nothing_of_a_commanded_delivery_is_held_to_the_command():
    """25 × 0.05 U commanded, nothing counted, nothing weighed: −100 %, a product finding, never a NaN that would
    leave DA-BOLUS-001 INCONCLUSIVE on the rig."""
    value, _, U = dose_metrics.record_disagreement_pct(0.0, 0.0, 0.01, commanded_U=1.25)
    assert value == pytest.approx(-100.0) and U == pytest.approx(0.8)


def test_one_bolus_in_ten_lost_while_recorded_is_a_disagreement_of_minus_ten_percent():
    recorded = np.full(100, 0.05)
    weighed = recorded.copy()
    weighed[9::10] = 0.0
    m = dose_metrics.bolus_record_metrics(weighed, recorded, u_difference_U=0.002, commanded_U=float(recorded.sum()))
    assert m["record_disagreement"][0] == pytest.approx(-10.0)
    assert m["record_disagreement"][2] == pytest.approx(100 * 2 * 10 * 0.002 / 5.0)  # U = 2·√n·u over the record
    assert m["record_bolus_difference_max"][:2] == (pytest.approx(0.05), "U")


def _basal(strokes_at_s, t_end_s=7200.0, interval_s=30.0, dose=0.05):
    t = np.arange(15.0, t_end_s, interval_s)
    delivered = np.array([dose * np.sum(np.asarray(strokes_at_s) < x) for x in t])
    return t, delivered


def test_history_matching_the_balance_stroke_for_stroke_is_no_disagreement():
    strokes = np.arange(180.0, 7200.0, 180.0)
    t, v = _basal(strokes)
    edges = t[::120]  # 1-h windows on sample times
    history = np.histogram(strokes, bins=edges)[0]
    m = dose_metrics.basal_record_metrics(t, v, edges, history, recorded_U=0.05 * history.sum(),
                                          u_difference_U=0.001, U_weighed_U=0.001)
    assert m["history_balance_disagreement"] == (0.0, "count", 0.0)
    assert m["record_disagreement"][0] == pytest.approx(0.0, abs=1e-9)


def test_phantom_strokes_in_the_history_are_counted_per_window():
    strokes = np.arange(180.0, 7200.0, 180.0)
    t, v = _basal(strokes)
    edges = t[::120]
    history = np.histogram(strokes, bins=edges)[0] + np.array([2, 1])[: edges.size - 1]
    m = dose_metrics.basal_record_metrics(t, v, edges, history, recorded_U=0.05 * history.sum(),
                                          u_difference_U=0.001, U_weighed_U=0.001)
    assert m["history_balance_disagreement"][0] == 2.0
    assert m["record_disagreement"][0] < 0


def test_strokes_the_sampling_cannot_separate_give_no_stroke_count():
    strokes = np.arange(5.0, 7200.0, 6.0)  # 30 U/h: a stroke every 6 s, sampled every 30 s
    t, v = _basal(strokes)
    edges = t[::120]
    m = dose_metrics.basal_record_metrics(t, v, edges, np.zeros(edges.size - 1), 1.0, 0.001, 0.001)
    assert "history_balance_disagreement" not in m and "record_disagreement" in m


def _steps(doses, every_s=90.0, first_share=0.88, t_end_s=6 * 3600.0, interval_s=30.0):
    """A balance's record of small steps: each rises `first_share` of its dose in the first sample after it (the
    line drains within a sample) and the rest in the next."""
    t = np.arange(15.0, t_end_s, interval_s)
    delivered = np.zeros(t.size)
    for k, dose in enumerate(doses):
        at = 30.0 + k * every_s
        delivered += dose * np.where(t > at, first_share, 0.0) + dose * np.where(t > at + interval_s, 1 - first_share, 0.0)
    return t, delivered


def test_steps_half_a_reference_stroke_are_counted_one_by_one_when_they_clear_the_noise():
    """The BPX-L's 0.025 U steps every 90 s with 4 % scatter, weighed by a balance whose reading difference has
    u = 0.0021 U: their first-sample rises (about 0.022 U) straddle 10 u, the threshold a 0.05 U stroke is counted by,
    so a fixed threshold there missed one step in seven and read a true history as 14 strokes wrong a window."""
    doses = 0.025 * (1 + 0.04 * np.random.default_rng(7).standard_normal(239))
    t, v = _steps(doses)
    edges = t[::120]
    at = 30.0 + 90.0 * np.arange(doses.size)
    history = np.histogram(at + 1.0, bins=edges)[0]
    m = dose_metrics.basal_record_metrics(t, v, edges, history, recorded_U=0.025 * history.sum(),
                                          u_difference_U=0.0021, U_weighed_U=0.001)
    assert m["history_balance_disagreement"] == (0.0, "count", 0.0)


def test_strokes_that_do_not_clear_ten_times_the_noise_give_no_stroke_count():
    t, v = _steps(np.full(239, 0.015))
    edges = t[::120]
    m = dose_metrics.basal_record_metrics(t, v, edges, np.zeros(edges.size - 1), 1.0, 0.0021, 0.001)
    assert "history_balance_disagreement" not in m and "record_disagreement" in m


def _bolus_run(duration_s, amount=10.0, interval=1.0, settle=60.0):
    t = np.arange(0.0, duration_s + settle, interval)
    return t, amount * np.clip(t / duration_s, 0, 1)


def test_a_slow_bolus_that_ends_is_measured():
    m = dose_metrics.bolus_timing_metrics([_bolus_run(500.0)], nominal_s=400.0, sample_interval_s=1.0)
    assert m["bolus_duration_error"][0] == pytest.approx(25.0, abs=0.5)


def test_a_bolus_that_never_ends_enters_as_its_lower_bound():
    m = dose_metrics.bolus_timing_metrics([_bolus_run(400.0)], nominal_s=400.0, sample_interval_s=1.0,
                                          unfinished_after_s=1200.0)
    assert m["bolus_duration_error"][0] == pytest.approx(200.0)
    only = dose_metrics.bolus_timing_metrics([], nominal_s=400.0, sample_interval_s=1.0, unfinished_after_s=1200.0)
    assert only["bolus_duration_error"][0] == pytest.approx(200.0) and math.isnan(only["bolus_tail_fraction"][0])


def test_the_new_metrics_are_in_the_catalogue_for_their_methods():
    assert {"basal-gravimetric", "bolus-gravimetric"} <= set(METRICS["record_disagreement"].methods)  # and more:
    # test_record_cross_check
    assert "basal-gravimetric" in METRICS["history_balance_disagreement"].methods
    assert METRICS["record_bolus_difference_max"].unit == "U"
