"""Recordings with missing or late samples are analysed by their real sample times (hil.analysis.sampling):
known answers against the complete recording, and a gap too long to bridge refused as a rig fault."""

import numpy as np
import pytest

from hil.analysis import dose_metrics, sampling
from hil.errors import RecordingGap, RigError

S = 30.0  # s
RATE_U_PER_H = 1.0
STROKE_U = 0.05


def basal_recording(hours=2.0, offset_pct=3.0, seed=3):
    """A stroke pump 3 % fast (a stroke every 171 s or so), weighed every S with a little balance noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, hours * 3600.0 + S / 2, S) + S / 2
    period = STROKE_U / (RATE_U_PER_H * (1 + offset_pct / 100.0) / 3600.0)
    return t, STROKE_U * np.floor(t / period) + 1e-5 * rng.standard_normal(t.size)


def metrics(t, v):
    return dose_metrics.basal_metrics(t, v, rate_U_per_h=RATE_U_PER_H, sample_interval_s=S, stabilisation_s=600.0,
                                      windows_h=[0.5], band_pct=15.0, trumpet_windows_min=[2, 5, 11, 19, 31],
                                      u_amount_U=lambda duration_s, amount_U: 1e-4)


@pytest.mark.parametrize("missing", [[57], [40, 90, 150, 200]], ids=["one missing", "four missing"])
def test_missing_samples_leave_the_overall_error_as_the_complete_recording_gives(missing):
    t, v = basal_recording()
    kept = np.delete(np.arange(t.size), missing)
    complete, holed = metrics(t, v), metrics(t[kept], v[kept])
    assert holed["overall_error"][0] == pytest.approx(complete["overall_error"][0], abs=1e-9)
    assert holed["total_delivered"][0] == pytest.approx(complete["total_delivered"][0], abs=1e-12)


def test_missing_samples_of_a_constant_flow_leave_every_window_as_it_was():
    t = np.arange(0.0, 7200.0 + S / 2, S)
    v = RATE_U_PER_H * 1.03 * t / 3600.0
    kept = np.delete(np.arange(t.size), [40, 90, 150, 200])
    complete, holed = metrics(t, v), metrics(t[kept], v[kept])
    assert holed.keys() == complete.keys()
    for name in complete:
        assert holed[name][0] == pytest.approx(complete[name][0], abs=1e-9), name


def test_late_samples_are_read_at_their_grid_times():
    t = np.arange(0.0, 3600.0 + S / 2, S)
    late = t + np.random.default_rng(1).uniform(0.0, 0.4 * S, t.size)
    np.testing.assert_allclose(sampling.on_grid(late, 2.0 * late, S, late[0]), 2.0 * (late[0] + t), rtol=1e-12)


def test_a_gap_longer_than_the_limit_is_refused_as_a_rig_fault():
    t, v = basal_recording()
    kept = np.delete(np.arange(t.size), [100, 101])  # a gap of three intervals
    with pytest.raises(RecordingGap, match=r"1 gap\(s\) longer than 2.5 sample intervals \(75 s\)") as info:
        metrics(t[kept], v[kept])
    assert isinstance(info.value, RigError)


def test_a_gap_before_the_analysis_period_is_not_used_and_not_refused():
    t, v = basal_recording()
    kept = np.delete(np.arange(t.size), [3, 4, 5])  # in the first 10 min of stabilisation
    assert metrics(t[kept], v[kept])["overall_error"][0] == pytest.approx(metrics(t, v)["overall_error"][0], abs=1e-9)
    assert sampling.gaps(t[kept], S).tolist() == [[t[2], 4 * S]]


@pytest.mark.parametrize("t", [[0.0, 30.0, 30.0, 90.0], [0.0, 60.0, 30.0, 90.0], [0.0, 30.0, float("nan"), 90.0]])
def test_sample_times_that_do_not_increase_are_refused(t):
    with pytest.raises(RecordingGap, match="not finite and increasing"):
        sampling.on_grid(np.array(t), np.arange(4.0), 30.0, 0.0)


# Mutation testing (scripts/mutation.sh, docs/validation.md): the gap limit's edge, the grid's first sample and
# its count, and the refusal's words.

def test_a_gap_of_exactly_the_limit_is_bridged():
    assert sampling.MAX_GAP_INTERVALS == 2.5
    assert sampling.gaps(np.array([0.0, 30.0, 105.0]), 30.0).shape == (0, 2)
    assert sampling.gaps(np.array([0.0, 30.0, 105.5]), 30.0).tolist() == [[30.0, 75.5]]
    np.testing.assert_allclose(sampling.on_grid(np.array([0.0, 30.0, 105.0]), np.array([0.0, 3.0, 10.5]), 30.0, 0.0),
                               [0.0, 3.0, 6.0, 9.0])


def test_the_grid_starts_at_the_sample_at_or_before_its_start_and_ends_within_the_recording():
    t = np.array([0.0, 30.0, 200.0, 230.0, 260.0, 290.0])  # a long gap, then the part used from 200 s
    v = 2.0 * t
    np.testing.assert_allclose(sampling.on_grid(t, v, 30.0, 200.0), [400.0, 460.0, 520.0, 580.0])
    np.testing.assert_allclose(sampling.on_grid(t, v, 30.0, 215.0), [430.0, 490.0, 550.0])
    np.testing.assert_allclose(sampling.on_grid(t, v, 30.0, 290.0), [580.0])
    with pytest.raises(RecordingGap):
        sampling.on_grid(t, v, 30.0, 199.0)  # the gap ends in the part used
    with pytest.raises(ValueError, match=r"^grid start 291 s lies outside the recording \(0-290 s\)$"):
        sampling.on_grid(t, v, 30.0, 291.0)
    with pytest.raises(ValueError, match="outside"):
        sampling.on_grid(t, v, 30.0, -1.0)
    np.testing.assert_allclose(sampling.on_grid(np.array([0.0, 30.0, 60.0, 90.0 - 1e-8]), np.arange(4.0), 30.0, 0.0),
                               [0.0, 1.0, 2.0, 3.0], atol=1e-6)  # a last sample a hair early still counts


def test_the_refusal_lists_at_most_five_gaps():
    t = np.concatenate([np.arange(0.0, 61.0, 30.0) + 200.0 * k for k in range(7)])
    with pytest.raises(RecordingGap) as info:
        sampling.on_grid(t, t, 30.0, 0.0)
    assert str(info.value) == ("6 gap(s) longer than 2.5 sample intervals (75 s) in the recording: 140 s at 60 s, "
                               "140 s at 260 s, 140 s at 460 s, 140 s at 660 s, 140 s at 860 s")


def test_sub_second_sampling_and_the_grid_tolerance():
    np.testing.assert_allclose(sampling.on_grid(np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 2.0]), 0.5, 0.0),
                               [0.0, 1.0, 2.0])
    t = np.array([0.0, 30.0, 60.0, 90.0 - 4.5e-8])  # 1.5e-9 of an interval short of the 4th grid time: not on it
    assert sampling.on_grid(t, np.arange(4.0), 30.0, 0.0).size == 3


def test_a_gap_right_after_the_first_sample_is_refused():
    with pytest.raises(RecordingGap, match=r"^1 gap\(s\) .*: 100 s at 0 s$"):
        sampling.on_grid(np.array([0.0, 100.0, 130.0]), np.arange(3.0), 30.0, 0.0)


def test_the_refusal_of_times_that_do_not_increase_in_full():
    with pytest.raises(RecordingGap, match=r"^the recording's sample times are not finite and increasing: its windows "
                                           r"cannot be timed$"):
        sampling.on_grid(np.array([0.0, 0.0]), np.arange(2.0), 30.0, 0.0)
