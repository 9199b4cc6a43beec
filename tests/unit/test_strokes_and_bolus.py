import numpy as np
import pytest

from hil.analysis import bolus
from hil.analysis.strokes import detect_strokes


def settled_strokes(times, doses, t, tau=4.0):
    """Cumulative series of strokes that each arrive with a first-order settling of time constant tau."""
    y = np.zeros_like(t)
    for t0, dose in zip(times, doses):
        y += dose * (1 - np.exp(-np.clip(t - t0, 0.0, None) / tau))
    return y


def test_stroke_doses_and_intervals_are_recovered():
    t = np.arange(0.0, 3600.0, 10.0)
    times = np.arange(95.0, 3600.0, 180.0)
    doses = 0.05 * (1 + 0.1 * np.random.default_rng(1).standard_normal(times.size))
    strokes = detect_strokes(t, settled_strokes(times, doses, t), threshold=0.005)
    assert strokes.doses.size == times.size
    np.testing.assert_allclose(strokes.doses, doses, rtol=0.02)
    np.testing.assert_allclose(strokes.intervals_s, 180.0)
    summary = strokes.summary()
    assert summary["interval_cv_pct"] == pytest.approx(0.0) and summary["dose_mean"] == pytest.approx(doses.mean(), rel=0.02)


def test_no_strokes_below_the_threshold():
    t = np.arange(0.0, 100.0, 1.0)
    assert detect_strokes(t, 1e-4 * np.sin(t), threshold=0.01).doses.size == 0


def test_bolus_statistics_known_answer():
    stats = bolus.bolus_statistics(np.array([0.9, 1.0, 1.1, 1.2]), 1.0, band_pct=15.0)
    assert stats["bolus_mean_error"] == pytest.approx(5.0)
    assert stats["bolus_sd"] == pytest.approx(np.std([-10, 0, 10, 20], ddof=1))
    assert (stats["bolus_min"], stats["bolus_max"]) == (0.9, 1.2)
    assert stats["bolus_share_within"] == 75.0


def test_delivery_time_of_a_linear_bolus():
    t = np.arange(0.0, 500.0, 1.0)
    v = np.clip(t / 400.0, 0, 1) * 10.0
    t5, t95 = bolus.delivery_time(t, v)
    assert (t5, t95) == (pytest.approx(20.0), pytest.approx(380.0))
    assert bolus.tail_fraction_pct(t, v, 400.0) == pytest.approx(0.0)


def test_tail_fraction_of_a_first_order_tail():
    # A constant inflow for T through a first-order line of time constant tau leaves
    # tau/T·(1 − e^(−T/tau)) to arrive after T.
    T, tau = 40.0, 3.8
    t = np.arange(0.0, 200.0, 0.01)
    inflow_end = np.minimum(t, T)
    stored = np.where(t <= T, tau * (1 - np.exp(-t / tau)), tau * (1 - np.exp(-T / tau)) * np.exp(-(t - T) / tau))
    arrived = inflow_end - stored
    expected = 100 * tau / T * (1 - np.exp(-T / tau))
    assert bolus.tail_fraction_pct(t, arrived, T) == pytest.approx(expected, rel=1e-3)


# Mutation testing of hil/analysis/strokes.py (scripts/mutation.sh, docs/validation.md): runs at the very
# start and end of the series, and the summary's exact numbers.

def test_strokes_at_the_edges_of_the_series():
    t = np.arange(10.0) * 2.0
    y = np.array([0.0, 0.0, 1.0, 2.0, 2.5, 2.6, 2.7, 2.7, 3.7, 4.2])  # runs of rises at 1-3 and 7-8
    strokes = detect_strokes(t, y, threshold=0.2)
    np.testing.assert_array_equal(strokes.times_s, [2.0, 14.0])
    # the first dose runs to the one settling sample after its run (5), the last to the series' end
    np.testing.assert_allclose(strokes.doses, [2.6, 1.5], rtol=1e-12)
    first = detect_strokes(t[:5], np.array([0.0, 1.0, 1.2, 1.2, 1.2]), threshold=0.1)
    np.testing.assert_array_equal(first.times_s, [0.0])
    np.testing.assert_array_equal(first.doses, [1.2])
    assert detect_strokes(t[:3], np.array([0.0, 0.2, 0.4]), threshold=0.2).doses.size == 0  # not above it
    nothing = detect_strokes(t[:3], np.zeros(3), threshold=0.2)
    assert nothing.times_s.size == 0 and nothing.intervals_s.size == 0


def test_stroke_summary_known_answers():
    import dataclasses
    import warnings

    t = np.arange(14.0)
    y = np.array([0, 0, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 6, 6], dtype=float)  # strokes at 1, 5, 11
    strokes = detect_strokes(t, y, threshold=0.5)
    summary = strokes.summary()
    assert summary == {"count": 3.0, "dose_mean": 2.0, "dose_cv_pct": 50.0, "interval_mean_s": 5.0,
                       "interval_cv_pct": pytest.approx(100 * np.sqrt(2) / 5)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        strokes.doses = np.zeros(3)  # a result is not edited afterwards
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one stroke: no spread to compute, and no NumPy warning about it either
        one = detect_strokes(t[:4], np.array([0.0, 0.0, 1.0, 1.0]), threshold=0.5).summary()
        two = detect_strokes(t[:8], np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]), threshold=0.5).summary()
    assert (one["count"], one["dose_mean"]) == (1.0, 1.0)
    assert all(np.isnan(one[k]) for k in ("dose_cv_pct", "interval_mean_s", "interval_cv_pct"))
    assert (two["interval_mean_s"], two["dose_cv_pct"]) == (4.0, 0.0) and np.isnan(two["interval_cv_pct"])
    none = detect_strokes(t[:4], np.zeros(4), threshold=0.5).summary()
    assert set(none) == {"count", "dose_mean", "dose_cv_pct", "interval_mean_s", "interval_cv_pct"}
    assert none["count"] == 0.0 and all(np.isnan(none[k]) for k in none if k != "count")
