"""Every evidence plot draws the limits its requirement states on what it shows, each labelled in its legend with the
requirement id, the measurement and the limit's value; read from the matplotlib Figure before it is saved."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hil.drivers.contracts import Alarm, AlarmKind, Priority, PumpState, Seen
from hil.evidence import plots
from hil.specs.loader import load_requirements

REQUIREMENTS = load_requirements([Path(__file__).resolve().parents[2] / "specs"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _limits(rid: str, *metrics: str) -> list[tuple[str, float]]:
    """(label, limit) of each limit the requirement file states on these metrics: what the plot must show."""
    requirement = REQUIREMENTS[rid]
    found = [(f"{rid} {b.name} {side} {value:g} {b.unit}", value) for b in requirement.acceptance
             if b.metric in metrics for side, value in (("≥", b.min), ("≤", b.max)) if value is not None]
    assert found, (rid, metrics)  # the requirement bounds what the plot shows
    return found


def _line(figure, label: str):
    """The one line whose label starts with the limit's label, which the legend of its axes shows."""
    (line,) = (line for ax in figure.axes for line in ax.get_lines() if line.get_label().startswith(label))
    legend = line.axes.get_legend()
    assert legend is not None and line.get_label() in {t.get_text() for t in legend.get_texts()}, label
    return line


def test_the_trumpet_draws_the_overall_error_and_the_ep_limits_at_their_window():
    requirement = REQUIREMENTS["DA-BASAL-002"]
    windows = requirement.case.trumpet_windows_min
    figure = plots.trumpet_figure(windows, np.linspace(20, 2, len(windows)), np.linspace(-20, -2, len(windows)), 0.3,
                                  "trumpet", requirement)
    for label, limit in _limits("DA-BASAL-002", "overall_error"):
        assert list(_line(figure, label).get_ydata()) == [limit, limit]
    for metric in ("trumpet_ep_max", "trumpet_ep_min"):
        (bound,) = (b for b in requirement.acceptance if b.metric == metric)
        for label, limit in _limits("DA-BASAL-002", metric):
            line = _line(figure, label)
            assert set(line.get_ydata()) == {limit} and bound.params["window_min"] in line.get_xdata()


def test_the_bolus_deviations_draw_the_mean_limits_and_a_single_bolus_size_limit_at_its_deviation():
    requirement = REQUIREMENTS["DA-BOLUS-002"]
    amount = requirement.case.bolus_U
    delivered = amount * (1 + np.linspace(-0.04, 0.05, requirement.case.count))
    figure = plots.bolus_deviation_figure(delivered, amount, requirement.case.band_pct, "boluses", requirement)
    for label, limit in _limits("DA-BOLUS-002", "bolus_mean_error"):
        assert list(_line(figure, label).get_ydata()) == [limit, limit]
    (share_label, _), = _limits("DA-BOLUS-002", "bolus_share_within")
    assert share_label in _line(figure, f"±{requirement.case.band_pct:g} % band").get_label()
    assert _line(figure, "mean deviation").get_ydata()[0] == pytest.approx(100 * (delivered.mean() - amount) / amount)

    smallest = REQUIREMENTS["DA-BOLUS-001"]
    amount = smallest.case.bolus_U
    figure = plots.bolus_deviation_figure(np.full(25, amount), amount, smallest.case.band_pct, "", smallest)
    ((label, limit),) = _limits("DA-BOLUS-001", "bolus_max")
    assert _line(figure, label).get_ydata()[0] == pytest.approx(100 * (limit - amount) / amount)


def test_the_cumulative_delivery_shows_each_windows_error_against_the_limits_of_its_length():
    requirement = REQUIREMENTS["DA-BASAL-001"]
    case = requirement.case
    rate = case.basal_rate_U_per_h
    t_s = np.arange(0.0, case.analysis_h * 3600.0 + 1, case.sample_interval_s)
    delivered = rate * 1.1 * t_s / 3600.0  # 10 % over in every window
    figure = plots.cumulative_figure(t_s, delivered, rate, 0.0, case.analysis_h * 3600.0, "cumulative", requirement)
    for bound in (b for b in requirement.acceptance if b.metric.startswith("window_delivered")):
        window_h = bound.params["window_h"]
        errors = _line(figure, f"{window_h:g}-h windows")
        assert list(errors.get_xdata()) == pytest.approx(np.arange(1, case.analysis_h // window_h + 1) * window_h)
        assert list(errors.get_ydata()) == pytest.approx([10.0] * len(errors.get_xdata()))
        for label, limit in _limits("DA-BASAL-001", bound.metric):
            if f"[window_h={window_h:g}]" in label:
                allowed_pct = 100 * (limit - rate * window_h) / (rate * window_h)
                assert list(_line(figure, label).get_ydata()) == pytest.approx([allowed_pct] * 2)


def test_the_bolus_delivery_curves_mark_the_durations_the_limits_allow():
    requirement = REQUIREMENTS["DA-BOLUS-004"]
    case = requirement.case
    nominal_s = case.bolus_U / case.speed_U_per_min * 60.0
    t = np.arange(0.0, 500.0)
    figure = plots.bolus_timing_figure([(t, np.minimum(t / nominal_s, 1) * case.bolus_U)], nominal_s,
                                       case.bolus_U, "timing", requirement)
    for label, limit in _limits("DA-BOLUS-004", "bolus_duration_error"):
        assert _line(figure, label).get_xdata()[0] == pytest.approx(nominal_s * (1 + limit / 100))


def test_the_occlusion_timeline_draws_the_alarm_time_the_pressure_and_the_release_limits():
    t_s = np.arange(0.0, 4 * 3600.0, 60.0)
    delivered, pressure = t_s / 3600.0, np.full(t_s.size, 50.0)
    blocked_s, opened_s = 1800.0, 3 * 3600.0
    for rid, metric in (("OC-ALARM-001", "time_to_alarm"), ("OC-PRESS-001", "pressure_at_alarm"),
                        ("OC-RELEASE-001", "released_volume")):
        figure = plots.occlusion_figure(t_s, delivered, pressure, {"block": blocked_s, "open": opened_s}, [], rid,
                                        REQUIREMENTS[rid], blocked_s)
        for label, limit in _limits(rid, metric):
            line = _line(figure, label)
            if metric == "time_to_alarm":
                assert line.get_xdata()[0] == pytest.approx(blocked_s / 60 + limit)
            elif metric == "pressure_at_alarm":
                assert list(line.get_ydata()) == [limit, limit]
            else:
                assert line.get_ydata()[0] == pytest.approx(opened_s / 3600 + limit)


def test_the_suspend_plot_draws_the_limits_on_the_first_suspension():
    value_t_s = np.arange(0.0, 6 * 3600.0, 300.0)
    poll_t_s = np.arange(0.0, 6 * 3600.0, 60.0)
    suspended = (poll_t_s >= 3600.0) & (poll_t_s < 7200.0)
    states = [PumpState.AUTO_SUSPENDED if s else PumpState.RUNNING for s in suspended]
    delivered = np.cumsum(~suspended) / 60.0  # 1 U/h while running
    values = [100.0] * (value_t_s.size - 10) + [None] * 10
    cases = (("HS-MAX-001", "suspension_duration", lambda line, limit: line.get_xdata()[0] == 60 + limit),
             ("HS-NODELIV-001", "delivered_while_suspended",
              lambda line, limit: line.get_ydata()[0] == pytest.approx(delivered[60] + limit)),
             ("HS-RESUME-001", "basal_error_after_resume",
              lambda line, limit: line.get_xdata()[0] == 180 and line.get_ydata()[0] == pytest.approx(
                  delivered[120] + 1.0 * (1 + limit / 100))),
             ("HS-CGMLOSS-001", "cgm_loss_resume_after",
              lambda line, limit: line.get_xdata()[0] == value_t_s[-11] / 60 + limit))
    for rid, metric, placed in cases:
        figure = plots.suspend_figure(value_t_s, values, poll_t_s, states, delivered, 70.0, 1.0, rid, REQUIREMENTS[rid])
        for label, limit in _limits(rid, metric):
            assert placed(_line(figure, label), limit), (rid, label)


def test_the_auto_mode_plot_draws_the_rate_and_insulin_on_board_limits():
    t = np.arange(0.0, 3 * 3600.0, 60.0)
    for rid, metrics in (("AID-CAP-001", ("auto_rate_max",)), ("AID-IOB-001", ("auto_iob_max",)),
                         ("AID-CGM-001", ("weighed_rate_after_fallback",))):
        figure = plots.auto_mode_figure(t[::5], [150.0] * t[::5].size, [None] * t[::5].size, [(t[0], 1.0)], t,
                                        np.ones(t.size), np.zeros(t.size), {}, rid, REQUIREMENTS[rid])
        for label, limit in _limits(rid, *metrics):
            assert list(_line(figure, label).get_ydata()) == [limit, limit]


def test_the_site_trial_draws_the_escalation_limit_from_the_first_alarm():
    t = np.arange(0.0, 4 * 3600.0, 60.0)
    alarm = Seen(Alarm("7", AlarmKind.CHECK_SITE, Priority.MEDIUM, 0.0), 3600.0)
    figure = plots.site_trial_figure(t, t / 3600.0, np.full(t.size, np.nan), np.zeros(t.size), 1800.0, [alarm], "",
                                     REQUIREMENTS["IF-ESC-001"])
    for label, limit in _limits("IF-ESC-001", "escalation_delay"):
        assert _line(figure, label).get_xdata()[0] == pytest.approx(1.0 + limit / 60)
