"""Automatic insulin as the balance sees it, whatever the design that decided it (zones with corrections, temporary
basals, microboluses): the vendor-neutral measures of specs/automated-delivery.yaml.

* A(t), the automatic insulin delivered since the start: the weighed cumulative delivery less the profile basal over
  the same time and less the user's boluses (the harness commands those, so it knows them). Everything else the pump
  delivered beyond its profile it decided itself, as a temporary rate, a correction or a microbolus; below the
  profile A falls.
* The automatic insulin on board: A's increments as doses, on the declared insulin-action curve
  (hil.analysis.insulin_on_board, oref0's exponential curve).
* The automatic insulin in any sliding window: max over t of A(t + w) − A(t).
* The harness's stated prediction: the lower of the 30-min trend prediction (hil.analysis.suspend_rules.predictions)
  and the insulin-only eventual glucose, the value less the insulin on board (automatic and the user's, weighed)
  times the insulin sensitivity (oref0's naive eventual glucose).
Pure functions on numpy arrays: times in s, amounts in U, glucose in mg/dL.
"""

import numpy as np

from hil.analysis import insulin_on_board


def automatic_cumulative(t_s, cumulative_U, profile_U_per_h: float, user_boluses=()) -> np.ndarray:
    """A(t): the weighed cumulative delivery (from 0 at t_s[0]) less the profile basal since t_s[0] and less each
    user's bolus (start s, U, duration s), counted as it is delivered, at its even speed."""
    t, u = np.asarray(t_s, dtype=float), np.asarray(cumulative_U, dtype=float)
    a = (u - u[0]) - profile_U_per_h * (t - t[0]) / 3600.0
    for start, units, duration in user_boluses:
        share = np.clip((t - start) / duration, 0.0, 1.0) if duration > 0 else (t >= start).astype(float)
        a = a - units * share
    return a


def on_board(t_s, amounts_U) -> np.ndarray:
    """Insulin on board at each time from a cumulative amount (each increment a dose at the middle of its
    interval), on the declared curve."""
    return insulin_on_board.net_iob(t_s, amounts_U, 0.0)


def window_max(t_s, amounts_U, window_s: float) -> tuple[float, float]:
    """The largest increase of a cumulative amount over any window of window_s within the recording, and where that
    window starts (NaN, NaN when the recording is shorter than the window). Windows start at every sample; each
    ends at the amount interpolated window_s later."""
    t, a = np.asarray(t_s, dtype=float), np.asarray(amounts_U, dtype=float)
    starts = t[t + window_s <= t[-1] + 1e-9]
    if starts.size == 0:
        return float("nan"), float("nan")
    gains = np.interp(starts + window_s, t, a) - np.interp(starts, t, a)
    k = int(np.argmax(gains))
    return float(gains[k]), float(starts[k])


def naive_eventual(glucose: float, iob_U: float, isf_mg_dl_per_U: float) -> float:
    """The insulin-only eventual glucose: the value less what the insulin on board will lower it by."""
    return glucose - iob_U * isf_mg_dl_per_U


def stated_predictions(trend_predictions, glucose, iob_at_values, isf: float) -> list[float | None]:
    """The harness's prediction at each value: the lower of the trend's and the insulin-only eventual glucose
    (None where no value was sent)."""
    out: list[float | None] = []
    for p, g, iob in zip(trend_predictions, glucose, iob_at_values, strict=True):
        out.append(None if p is None or g is None else min(p, naive_eventual(g, iob, isf)))
    return out


def insulin_while_predicted_low(t_s, automatic_U, value_t_s, judged, lag_s: float, span_s: float) -> tuple[float, int]:
    """The largest automatic insulin delivered in the decision interval of a judged value ([its time + lag_s, + span_s],
    within the recording), and how many values were judged (0: nothing to judge, the largest is NaN)."""
    t, a = np.asarray(t_s, dtype=float), np.asarray(automatic_U, dtype=float)
    worst, count = float("nan"), 0
    for k, j in enumerate(judged):
        start = value_t_s[k] + lag_s
        if not j or start + span_s > t[-1] + 1e-9:
            continue
        count += 1
        given = float(np.interp(start + span_s, t, a) - np.interp(start, t, a))
        worst = given if count == 1 else max(worst, given)
    return worst, count
