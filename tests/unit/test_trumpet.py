"""IEC 60601-2-24 trumpet and window analysis against known answers and an independent computation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.analysis import trumpet, windows

S = 30.0  # s, the IEC 0.5-min sample interval
IEC_WINDOWS_MIN = [2, 5, 11, 19, 31]


def constant_flow(rate_per_s, duration_s, offset_pct=0.0, interval=S):
    t = np.arange(0.0, duration_s + interval / 2, interval)
    return t, rate_per_s * (1 + offset_pct / 100.0) * t


def stroke_flow(rate_per_s, stroke, duration_s, interval=S, phase_s=0.0):
    """Cumulative delivery of a pump giving `stroke` every stroke/rate seconds, sampled every interval."""
    t = np.arange(0.0, duration_s + interval / 2, interval)
    period = stroke / rate_per_s
    return t, stroke * np.floor((t + phase_s) / period)


def test_constant_flow_with_known_offset():
    rate = 10.0 / 3600.0  # 10 µL/h = 1 U/h
    t, v = constant_flow(rate, 3600.0, offset_pct=3.0)
    assert trumpet.overall_error_pct(v, 3600.0, rate) == pytest.approx(3.0)
    for point in trumpet.trumpet(v, S, [w * 60 for w in IEC_WINDOWS_MIN], rate):
        assert point.ep_max_pct == pytest.approx(3.0) and point.ep_min_pct == pytest.approx(3.0)


def test_stroke_quantisation_reproduces_the_analytic_envelope():
    # 1 U/h with 0.05 U strokes (one per 3 min) gives −100 % or +50 % in 2-min windows (the project's derivation:
    # docs/references.md, "The IEC 60601-2-24 accuracy test").
    rate, stroke = 1.0 / 3600.0, 0.05
    t, v = stroke_flow(rate, stroke, 2 * 3600.0, phase_s=15.0)
    errors = trumpet.window_errors_pct(v, S, 120.0, rate)
    assert set(np.round(errors, 9)) == {-100.0, 50.0}
    # The envelope for any window W: between floor(W/Tp)·Tp/W − 1 and ceil(W/Tp)·Tp/W − 1.
    for window_min in IEC_WINDOWS_MIN:
        w = window_min * 60.0
        low, high = np.floor(w / 180.0) * 180.0 / w - 1, np.ceil(w / 180.0) * 180.0 / w - 1
        errors = trumpet.window_errors_pct(v, S, w, rate)
        assert errors.min() == pytest.approx(100 * low) and errors.max() == pytest.approx(100 * high)


def iec_recipe(mass, rate_per_min, sample_min=0.5, windows_samples=(4, 10, 22, 38, 62)):
    """The IEC recipe written out the straightforward way: per-sample flows, then moving means."""
    flows = [(mass[i] - mass[i - 1]) / sample_min for i in range(1, len(mass))]
    result = {}
    for p in windows_samples:
        errors = []
        for j in range(len(flows) - p + 1):
            mean_flow = sum(flows[j : j + p]) / p
            errors.append(100.0 * (mean_flow - rate_per_min) / rate_per_min)
        result[p] = (max(errors), min(errors))
    return result


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_vectorised_trumpet_matches_the_iec_recipe(seed):
    rng = np.random.default_rng(seed)
    rate_per_min = 0.2  # arbitrary units per minute
    flows = rate_per_min * 0.5 * (1 + 0.2 * rng.standard_normal(240))
    mass = np.concatenate([[0.0], np.cumsum(flows)])
    expected = iec_recipe(list(mass), rate_per_min)
    points = trumpet.trumpet(mass, S, [p * S for p in expected], rate_per_min / 60.0)
    for point, (ep_max, ep_min) in zip(points, expected.values()):
        assert point.ep_max_pct == pytest.approx(ep_max, rel=1e-9, abs=1e-9)
        assert point.ep_min_pct == pytest.approx(ep_min, rel=1e-9, abs=1e-9)


# The phase keeps samples off the stroke instants (k/4 of a period), where floor() would decide by rounding.
@given(rate_u_h=st.floats(0.05, 30.0), phase=st.floats(0.01, 0.24))
def test_a_perfect_pump_has_zero_error_in_whole_stroke_windows(rate_u_h, phase):
    rate = rate_u_h / 3600.0
    period = 0.05 / rate
    t, v = stroke_flow(rate, 0.05, 12 * period, interval=period / 4, phase_s=phase * period)
    totals = windows.window_totals(v, period / 4, period)  # each window: exactly one stroke period
    np.testing.assert_allclose(windows.window_errors(totals, 0.05), 0.0, atol=1e-9)


@given(bias=st.floats(-0.5, 0.5), seed=st.integers(0, 1000))
def test_errors_scale_with_an_injected_bias(bias, seed):
    rng = np.random.default_rng(seed)
    rate = 1.0 / 3600.0
    v = np.concatenate([[0.0], np.cumsum(rate * S * (1 + 0.1 * rng.standard_normal(240)))])
    base = trumpet.trumpet(v, S, [300.0, 1800.0], rate)
    biased = trumpet.trumpet(v * (1 + bias), S, [300.0, 1800.0], rate)
    for b, p in zip(base, biased):
        assert 100 + p.ep_max_pct == pytest.approx((100 + b.ep_max_pct) * (1 + bias), rel=1e-9)
    assert 100 + trumpet.overall_error_pct(v * (1 + bias), 7200.0, rate) == pytest.approx(
        (100 + trumpet.overall_error_pct(v, 7200.0, rate)) * (1 + bias), rel=1e-9)


def test_window_not_a_whole_number_of_samples_is_refused():
    with pytest.raises(ValueError, match="whole number"):
        trumpet.window_errors_pct(np.zeros(10), 30.0, 45.0, 1.0)


def test_windows_longer_than_the_series_are_reported_as_nan():
    (point,) = trumpet.trumpet(np.linspace(0, 1, 5), 30.0, [3600.0], 1.0)
    assert np.isnan(point.ep_max_pct) and point.positions == 0


def test_share_within_counts_the_band_inclusively():
    assert windows.share_within(np.array([-15.0, 0.0, 15.0, 15.1]), 15.0) == 75.0


def test_share_within_uncertainty_counts_the_errors_an_uncertainty_could_move_across_the_band():
    errors = np.array([0.0, 14.0, 15.5, -16.5, 30.0])
    assert windows.share_within_uncertainty(errors, 15.0, 1.0) == 40.0  # 14.0 and 15.5
    assert windows.share_within_uncertainty(errors, 15.0, 0.0) == 0.0


# Mutation testing (scripts/mutation.sh, docs/validation.md): known answers that pin the indexing and the edges.

def test_overall_error_is_from_the_first_to_the_last_sample():
    v = np.array([5.0, 6.0, 7.0, 8.5])  # 3.5 delivered in 90 s against 3 expected
    assert trumpet.overall_error_pct(v, 90.0, 1.0 / 30.0) == pytest.approx(100.0 * (3.5 / 3.0 - 1.0), rel=1e-12)


def test_trumpet_points_known_answer():
    v = np.array([0.0, 1.0, 3.0, 4.0, 4.0])  # per-sample deliveries 1, 2, 1, 0 against 1 expected
    p1, p2, p4, p5 = trumpet.trumpet(v, 10.0, [10.0, 20.0, 40.0, 50.0], 0.1)
    assert (p1.window_s, p1.ep_max_pct, p1.ep_min_pct, p1.positions) == (10.0, pytest.approx(100.0), pytest.approx(-100.0), 4)
    assert (p2.ep_max_pct, p2.ep_min_pct, p2.positions) == (pytest.approx(50.0), pytest.approx(-50.0), 3)
    assert (p4.ep_max_pct, p4.ep_min_pct, p4.positions) == (pytest.approx(0.0, abs=1e-12), pytest.approx(0.0, abs=1e-12), 1)
    assert np.isnan(p5.ep_min_pct) and (p5.window_s, p5.positions) == (50.0, 0)
    assert trumpet.window_errors_pct(v, 10.0, 50.0, 0.1).size == 0


def test_a_window_of_one_sample_is_allowed_and_less_than_one_is_refused():
    np.testing.assert_allclose(trumpet.window_errors_pct(np.array([0.0, 2.0, 3.0]), 30.0, 30.0, 1.0 / 30.0),
                               [100.0, 0.0])
    with pytest.raises(ValueError, match=r"^window 15 s is not a whole number of 30 s samples$"):
        trumpet.window_errors_pct(np.zeros(10), 30.0, 15.0, 1.0)
    with pytest.raises(ValueError, match="whole number"):
        trumpet.window_errors_pct(np.zeros(10), 30.0, 30.0 * 2.000001, 1.0)
    assert trumpet.window_errors_pct(np.arange(10.0), 30.0, 60.0 + 1e-9, 1.0 / 30.0).size == 8  # rounding noise
    with pytest.raises(ValueError, match="whole number"):  # the tolerance is 1e-9 of a sample, no more
        trumpet.window_errors_pct(np.arange(10.0), 1.0, 2.0 + 1.5e-9, 1.0)


def test_window_totals_and_errors_known_answer():
    v = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0, 28.0])
    np.testing.assert_array_equal(windows.window_totals(v, 10.0, 20.0), [3.0, 7.0, 11.0])  # the 7th→8th is cut
    np.testing.assert_array_equal(windows.window_errors([3.0, 6.0, 9.0], 6.0), [-50.0, 0.0, 50.0])


def test_shares_of_nothing_and_the_band_edge():
    assert np.isnan(windows.share_within(np.array([]), 15.0))
    assert windows.share_within_uncertainty(np.array([]), 15.0, 1.0) == 0.0
    assert windows.share_within(np.array([15.0 + 1e-13, -15.0 - 1e-13, 15.0 + 1e-11]), 15.0) == pytest.approx(200 / 3)
    assert windows.share_within(np.array([1.0, 2.0, 3.0, 30.0]), 15.0) == 75.0
    assert windows.share_within_uncertainty(np.array([15.5, 0.0, -14.5, 13.0]), 15.0, 0.5) == 50.0  # edges count


def test_the_band_tolerance_is_1e_12_percentage_points_inclusive():
    assert windows.share_within(np.array([15.0 + 1e-12]), 15.0) == 100.0
    assert windows.share_within(np.array([15.0 + 1.5e-12]), 15.0) == 0.0


def test_a_trumpet_point_cannot_be_edited_afterwards():
    import dataclasses

    (point,) = trumpet.trumpet(np.array([0.0, 1.0, 2.0]), 10.0, [10.0], 0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.ep_max_pct = 0.0
