"""Insulin on board from weighed delivery, stated independently of any pump (the harness's own reading of OpenAPS
oref0's exponential insulin curve, lib/iob/calculate.js; docs/references.md, "Insulin on board in automated delivery"),
to judge a pump's automatic dosing against its maximum insulin on board.

oref0 counts the net insulin: every bolus, and a temporary basal's difference from the scheduled one; so here every
weighed increment net of what the profile basal would have delivered over it. The activity curve for a dose at 0,
peak tp and duration of action td (minutes), with τ = tp (1 − tp/td) / (1 − 2 tp/td), a = 2τ/td and
S = 1 / (1 − a + (1 + a) e^(−td/τ)), leaves on board the share
    1 − S (1 − a) ((t² / (τ td (1 − a)) − t/τ − 1) e^(−t/τ) + 1)   for 0 ≤ t < td, and 0 after.
Pure functions on numpy arrays: times in s, amounts in U.
"""

import numpy as np

PEAK_MIN = 75.0  # oref0's "rapid-acting" curve
DURATION_MIN = 300.0  # oref0's floor of the duration of action with an exponential curve (5 h)


def remaining_share(minutes, peak: float = PEAK_MIN, duration: float = DURATION_MIN) -> np.ndarray:
    """The share of a dose still on board `minutes` after it (1 before, 0 from the end of its action)."""
    t = np.asarray(minutes, dtype=float)
    tau = peak * (1 - peak / duration) / (1 - 2 * peak / duration)
    a = 2 * tau / duration
    s = 1 / (1 - a + (1 + a) * np.exp(-duration / tau))
    clipped = np.clip(t, 0.0, duration)
    left = 1 - s * (1 - a) * (
        (clipped**2 / (tau * duration * (1 - a)) - clipped / tau - 1) * np.exp(-clipped / tau) + 1
    )
    return np.where(t <= 0, 1.0, np.where(t >= duration, 0.0, left))


def net_iob(t_s, cumulative_U, profile_U_per_h: float) -> np.ndarray:
    """Insulin on board at each sample time: every increment of the cumulative delivery, net of the profile basal
    over it, counted at the middle of its interval."""
    t, u = np.asarray(t_s, dtype=float), np.asarray(cumulative_U, dtype=float)
    if t.size < 2:
        return np.zeros(t.size)
    dose_t = (t[1:] + t[:-1]) / 2.0
    dose_U = np.diff(u) - profile_U_per_h * np.diff(t) / 3600.0
    minutes = (t[:, None] - dose_t[None, :]) / 60.0  # sample × dose
    on_board = np.where(minutes >= 0, dose_U[None, :] * remaining_share(minutes), 0.0)
    return on_board.sum(axis=1)
