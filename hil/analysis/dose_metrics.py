"""From gravimetric recordings to the named dose-accuracy metrics of the catalogue (hil.specs.metrics),
each with its unit and expanded uncertainty. Pure: arrays and numbers in, a dict out."""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from hil.analysis import bolus, sampling, trumpet, windows
from hil.analysis.metric import Metric, Metrics, measurement_name
from hil.analysis.strokes import countable_strokes


def overall_error_uncertainty_pct(
    u_amount_U: Callable[[float, float], float], rate_U_per_h: float, duration_s: float
) -> float:
    """Expanded uncertainty (k = 2) of the overall error over duration_s, in % of the expected amount; known
    before the run, so the fitness check can use it."""
    expected = rate_U_per_h * duration_s / 3600.0
    return 100.0 * 2.0 * u_amount_U(duration_s, expected) / expected


def basal_metrics(
    t_s: np.ndarray,
    delivered_U: np.ndarray,
    *,
    rate_U_per_h: float,
    sample_interval_s: float,
    stabilisation_s: float,
    windows_h,
    band_pct: float,
    trumpet_windows_min,
    u_amount_U: Callable[[float, float], float],
) -> Metrics:
    """Metrics over the analysis period (after stabilisation) of a cumulative series sampled every
    sample_interval_s, read on that grid from the real sample times (hil.analysis.sampling: RecordingGap when a
    gap is too long to bridge). u_amount_U(duration_s, amount_U): standard uncertainty of an amount weighed over
    that interval."""
    t = np.asarray(t_s, dtype=float)
    v = sampling.on_grid(t, delivered_U, sample_interval_s, t[0] + stabilisation_s)
    duration_s = (v.size - 1) * sample_interval_s
    rate = rate_U_per_h / 3600.0
    U = 2.0 * u_amount_U(duration_s, rate * duration_s)
    out: Metrics = {
        "overall_error": Metric(
            trumpet.overall_error_pct(v, duration_s, rate),
            "%",
            overall_error_uncertainty_pct(u_amount_U, rate_U_per_h, duration_s),
        ),
        "total_delivered": Metric(float(v[-1] - v[0]), "U", U),
    }
    for window_h in windows_h:
        totals = windows.window_totals(v, sample_interval_s, window_h * 3600.0)
        if totals.size == 0:
            continue
        errors = windows.window_errors(totals, rate_U_per_h * window_h)
        U = 2.0 * u_amount_U(window_h * 3600.0, rate_U_per_h * window_h)
        p = {"window_h": window_h}
        out[measurement_name("window_delivered_min", p)] = Metric(float(totals.min()), "U", U)
        out[measurement_name("window_delivered_max", p)] = Metric(float(totals.max()), "U", U)
        u_error = 100.0 * U / (rate_U_per_h * window_h)
        out[measurement_name("window_share_within", p | {"band_pct": band_pct})] = Metric(
            windows.share_within(errors, band_pct),
            "%",
            windows.share_within_uncertainty(errors, band_pct, u_error),
        )
    for point in trumpet.trumpet(v, sample_interval_s, [w * 60.0 for w in trumpet_windows_min], rate):
        p = {"window_min": point.window_s / 60.0}
        u_pct = 100.0 * 2.0 * u_amount_U(point.window_s, rate * point.window_s) / (rate * point.window_s)
        out[measurement_name("trumpet_ep_max", p)] = Metric(point.ep_max_pct, "%", u_pct)
        out[measurement_name("trumpet_ep_min", p)] = Metric(point.ep_min_pct, "%", u_pct)
    return out


def stroke_metrics(t_s: np.ndarray, delivered_U: np.ndarray, u_difference_U: float) -> Metrics:
    """Dose-by-dose statistics (reported): empty when the strokes cannot be counted one by one
    (hil.analysis.strokes.countable_strokes)."""
    strokes = countable_strokes(t_s, delivered_U, u_difference_U)
    if strokes is None:
        return {}
    s = strokes.summary()
    return {
        "stroke_count": Metric(s["count"], "1", 0.0),
        "stroke_dose_mean": Metric(s["dose_mean"], "U", 0.0),
        "stroke_dose_cv": Metric(s["dose_cv_pct"], "%", 0.0),
        "stroke_interval_mean": Metric(s["interval_mean_s"], "s", 0.0),
        "stroke_interval_cv": Metric(s["interval_cv_pct"], "%", 0.0),
    }


def bolus_mean_error_uncertainty_pct(u_difference_U: float, programmed_U: float, count: int) -> float:
    """Expanded uncertainty of the mean bolus error (%): known before the run, for the fitness check."""
    return 100.0 * 2.0 * u_difference_U / (programmed_U * np.sqrt(count))


def bolus_duration_uncertainty_pct(sample_interval_s: float, nominal_s: float) -> float:
    """Expanded uncertainty of a 5 %-95 % delivery time from sampling (two edges, one interval each), in %."""
    return 100.0 * 2 * sample_interval_s / 0.90 / nominal_s


def bolus_metrics(delivered_U: np.ndarray, programmed_U: float, band_pct: float, u_difference_U: float) -> Metrics:
    stats = bolus.bolus_statistics(delivered_U, programmed_U, band_pct)
    U = 2.0 * u_difference_U
    n = len(delivered_U)
    deviations = 100.0 * (np.asarray(delivered_U, dtype=float) - programmed_U) / programmed_U
    u_share = windows.share_within_uncertainty(deviations, band_pct, 100.0 * U / programmed_U)
    return {
        "bolus_mean_error": Metric(
            stats["bolus_mean_error"],
            "%",
            bolus_mean_error_uncertainty_pct(u_difference_U, programmed_U, n),
        ),
        "bolus_sd": Metric(stats["bolus_sd"], "%", 0.0),
        "bolus_min": Metric(stats["bolus_min"], "U", U),
        "bolus_max": Metric(stats["bolus_max"], "U", U),
        measurement_name("bolus_share_within", {"band_pct": band_pct}): Metric(
            stats["bolus_share_within"], "%", u_share
        ),
    }


def bolus_timing_metrics(
    runs: list[tuple[np.ndarray, np.ndarray]],
    nominal_s: float,
    sample_interval_s: float,
    unfinished_after_s: float | None = None,
) -> Metrics:
    """Runs: (t since the bolus command, cumulative delivered) for each timed bolus that ended. A bolus still
    delivering when the wait ran out (unfinished_after_s since its command) took at least that long: its error
    enters as that lower bound, (unfinished_after_s - nominal_s) / nominal_s."""
    duration_errors = bolus_duration_errors(runs, nominal_s)
    tails = [bolus.tail_fraction_pct(t, v, nominal_s) for t, v in runs]
    if unfinished_after_s is not None:
        duration_errors.append(100.0 * (unfinished_after_s - nominal_s) / nominal_s)
    worst = max(duration_errors, key=abs)
    return {
        "bolus_duration_error": Metric(worst, "%", bolus_duration_uncertainty_pct(sample_interval_s, nominal_s)),
        "bolus_tail_fraction": Metric(max(tails) if tails else float("nan"), "%", 0.0),
    }


def record_disagreement_pct(
    weighed_U: float, recorded_U: float, U_weighed_U: float, *, commanded_U: float = 0.0
) -> Metric:
    """What the balance weighed against what the pump says it delivered over the same interval, in % of the
    pump's record (negative: less arrived than the pump recorded), with the weighed amount's expanded
    uncertainty U_weighed_U as its uncertainty (the pump's count carries none). A pump that records nothing of a
    commanded delivery is held to the command instead (a pump that neither delivers nor counts is −100 %); with
    neither, not a number."""
    reference = recorded_U if recorded_U > 0 else commanded_U
    if reference <= 0:
        return Metric(float("nan"), "%", float("nan"))
    return Metric(100.0 * (weighed_U - reference) / reference, "%", 100.0 * U_weighed_U / reference)


@dataclass(frozen=True)
class RecordSpan:
    """A span of a test over which what the balance weighed and what the pump recorded should agree: the weighed
    amount with its expanded uncertainty (k = 2), the pump's record over the same interval, and the amount the test
    commanded (held against the weighed one by a pump that records nothing)."""

    weighed_U: float
    U_weighed_U: float
    recorded_U: float
    commanded_U: float


def spans_record_disagreement(spans: Iterable[RecordSpan]) -> Metric:
    """record_disagreement_pct over the spans together: their weighed, recorded and commanded amounts summed, the
    weighings' uncertainties (independent) in quadrature; not a number without a span."""
    spans = list(spans)
    if not spans:
        return Metric(float("nan"), "%", float("nan"))
    return record_disagreement_pct(
        sum(s.weighed_U for s in spans),
        sum(s.recorded_U for s in spans),
        math.hypot(*(s.U_weighed_U for s in spans)),
        commanded_U=sum(s.commanded_U for s in spans),
    )


def bolus_record_metrics(
    delivered_U: np.ndarray, recorded_U: np.ndarray, u_difference_U: float, commanded_U: float
) -> Metrics:
    """The boluses as weighed against the boluses as the pump recorded them (STATUS `delivered` after minus
    before each): the run's totals (independent weighings: U = 2·√n·u of one difference; commanded_U, the sum of
    the boluses commanded, for a pump that records none) and, reported, the largest single-bolus difference in U."""
    weighed = np.asarray(delivered_U, dtype=float)
    recorded = np.asarray(recorded_U, dtype=float)
    U_total = 2.0 * float(np.sqrt(weighed.size)) * u_difference_U
    return {
        "record_disagreement": record_disagreement_pct(
            float(weighed.sum()), float(recorded.sum()), U_total, commanded_U=commanded_U
        ),
        "record_bolus_difference_max": Metric(float(np.max(np.abs(weighed - recorded))), "U", 2.0 * u_difference_U),
    }


def basal_record_metrics(
    t_s: np.ndarray,
    delivered_U: np.ndarray,
    edges_s: np.ndarray,
    history_strokes: np.ndarray,
    recorded_U: float,
    u_difference_U: float,
    U_weighed_U: float,
) -> Metrics:
    """The basal windows [edges_s[k], edges_s[k+1]) as the pump's history counts them (history_strokes[k]) against
    the strokes the balance saw in them (a stroke is placed at the sample before its rise, so a window whose
    edges are sample times holds the strokes made within it), and the whole span's weighed amount against the
    pump's record (recorded_U). The stroke count is not measured when the strokes cannot be counted one by one
    (hil.analysis.strokes.countable_strokes: too small against the balance's noise, or too close for its sampling)."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(delivered_U, dtype=float)
    edges = np.asarray(edges_s, dtype=float)
    span = (t >= edges[0]) & (t <= edges[-1])
    weighed = float(np.interp(edges[-1], t, y) - np.interp(edges[0], t, y))
    out: Metrics = {"record_disagreement": record_disagreement_pct(weighed, recorded_U, U_weighed_U)}
    strokes = countable_strokes(t[span], y[span], u_difference_U)
    if strokes is None:
        return out
    seen = np.histogram(strokes.times_s, bins=edges)[0]
    logged = np.asarray(history_strokes, dtype=float)
    out["history_balance_disagreement"] = Metric(float(np.max(np.abs(logged - seen))), "count", 0.0)
    return out


def bolus_duration_errors(runs: list[tuple[np.ndarray, np.ndarray]], nominal_s: float) -> list[float]:
    """Deviation (%) of each run's gravimetric 5 %-95 % delivery time, scaled to the whole bolus, from nominal_s."""
    errors = []
    for t, v in runs:
        t5, t95 = bolus.delivery_time(t, v)
        errors.append(100.0 * ((t95 - t5) / 0.90 - nominal_s) / nominal_s)
    return errors
