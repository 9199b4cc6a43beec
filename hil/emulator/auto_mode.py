"""Automated insulin delivery ("auto mode") in the emulated firmware: at every CGM value the pump predicts glucose
30 min ahead and sets its own basal, with automatic corrections. The rules are published ones, each cited
(docs/references.md, "Automated insulin delivery"):

Zones, from Control-IQ's published treatment values (Tandem), on the 30-min prediction. The prediction is the lower
of two: the CGM value plus 30 min of the CGM's trend (over the last 15 min), and the value plus 30 min of the average
rate of change since the values 20-40 min before it (oref0's long_avgdelta, lib/glucose-get-last.js; determine-basal
doses on the lower of its deltas, minDelta and minAvgDelta). CGM noise is correlated over about 15 min, so the
15-min trend alone can read a rise that is noise: in a closed-loop day it predicted 193 mg/dL at a true 100 and gave a
3.8-U correction (adult#001, 2026-12-05). The lower of the two never predicts higher than the trend, so everything the
rules do on a low trend prediction (reduce, stop) they still do:
* predicted ≤ 70 mg/dL: delivery stopped (0 U/h);
* predicted < 112.5: basal reduced below the profile;
* 112.5-160: the profile basal;
* predicted > 160: basal increased;
* predicted ≥ 180: an automatic correction bolus of 60 % of the computed correction, at most one per 60 min;
* no CGM value for 20 min: back to the profile basal, with a MEDIUM alert (Control-IQ reverts to the profile when CGM is
  missing > 20 min); 90 min more without one and auto mode exits with a HIGH alarm (the 770G's Auto Mode exits after
  90 min in Safe Basal). A value is fresh when the CGM took it at most 5 min (one sensor interval) before it
  arrives; an older one counts as missing.

Sizes, from OpenAPS oref0's determine-basal.js (MIT; the dosing rules and safety caps of its documentation,
"preferences and safety settings"):
* eventual glucose = predicted − IOB × ISF; insulin required = (eventual − target) / ISF;
* the automatic rate = profile + 2 × insulin required (a 30-min temporary basal delivering it on top of the profile),
  never below 0, never above the profile while predicted < 112.5 nor below it above 160;
* max temporary basal = min(max_basal, 3 × the highest scheduled basal, 4 × the current basal);
* insulin on board from automatic dosing never beyond max_iob: an increase or a correction is cut to what keeps
  IOB ≤ max_iob;
* the correction: 60 % × (predicted − target) / ISF − IOB, cut by max_iob, in the pump's increments.
Insulin on board: oref0's exponential activity curve (lib/iob/calculate.js) for rapid-acting insulin, peak 75 min,
duration of action 5 h (oref0's floor for exponential curves), over the net insulin: every bolus, and the automatic
basal's difference from the profile (negative when it delivers less), as oref0 counts it.

What every design shares (`AutoDesign`): the settings, the insulin on board and its activity, the CGM values of the
last 42.5 min, the caps, and the pump's increments; the CGM-lost fallback, the exit and the freshness of a value are the
pump's (hil/emulator/pump.py). The rig chooses the design (`emulator.auto_mode.design`): these zones, or oref0's
microboluses (hil/emulator/microbolus.py).
"""

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from hil.emulation.options import Defects

STOP_AT_OR_BELOW = 70.0  # mg/dL predicted: Control-IQ stops delivery
REDUCE_BELOW = 112.5  # Control-IQ reduces basal below this prediction
INCREASE_ABOVE = 160.0  # and increases it above this one
CORRECT_AT_OR_ABOVE = 180.0  # automatic correction when predicted ≥ 180 mg/dL
CORRECTION_SHARE = 0.60  # of the computed correction (Control-IQ)
CORRECTION_INTERVAL_S = 60 * 60.0  # at most one automatic correction per 60 min (Control-IQ)
USER_BOLUS_HOLD_S = 60 * 60.0  # no automatic correction within 60 min of a user's bolus (Control-IQ)
HORIZON_MIN = 30.0  # the prediction's horizon (Control-IQ: 30 min)
CGM_MISSING_S = 20 * 60.0  # Control-IQ: profile basal when CGM is missing > 20 min
EXIT_AFTER_SAFE_BASAL_S = 90 * 60.0  # 770G: Auto Mode exits after 90 min in Safe Basal
FRESH_S = 5 * 60.0  # one CGM interval: a value taken longer ago than this is stale
TEMP_BASAL_H = 0.5  # oref0 sets 30-min temporary basals: rate = profile + insulinReq / 0.5 h
MAX_DAILY_MULTIPLIER = 3.0  # oref0 max_daily_safety_multiplier
CURRENT_MULTIPLIER = 4.0  # oref0 current_basal_safety_multiplier
PEAK_MIN = 75.0  # oref0 "rapid-acting" insulin curve peak
DIA_MIN = 5 * 60.0  # oref0's minimum duration of insulin action with an exponential curve
LONG_DELTA_MIN = (17.5, 42.5)  # oref0 long_avgdelta: the values ~20-40 min before the latest
USER_BOLUS_SPAN_S = 20 * 60.0  # seeded aid_correction_ignores_user_bolus: how far back a user's bolus strokes go


class Zone(StrEnum):
    """Why the automatic rate is what it is (the AUTO_BASAL event's reason)."""

    STOP = "STOP"
    REDUCE = "REDUCE"
    PROFILE = "PROFILE"
    INCREASE = "INCREASE"
    CGM_LOST = "CGM_LOST"


@dataclass
class AutoSettings:
    """The auto mode's settings (SET): the correction target, the insulin sensitivity and the two safety caps."""

    target: float = 110.0  # mg/dL: Control-IQ corrects to 110 mg/dL
    isf: float = 50.0  # mg/dL per U, the user's correction factor
    max_basal: float = 3.0  # U/h, the user's maximum basal (oref0 max_basal)
    max_iob: float = 5.0  # U of insulin on board from automatic dosing (oref0 max_iob)


@functools.cache
def _curve(peak: float, dia: float) -> tuple[float, float, float]:
    """oref0's exponential curve's constants (lib/iob/calculate.js): tau, a and S."""
    tau = peak * (1 - peak / dia) / (1 - 2 * peak / dia)
    a = 2 * tau / dia
    return tau, a, 1 / (1 - a + (1 + a) * math.exp(-dia / tau))


def iob_fraction(minutes: float, peak: float = PEAK_MIN, dia: float = DIA_MIN) -> float:
    """The share of a dose still on board `minutes` after it, on oref0's exponential curve (1 at 0, 0 from dia)."""
    if minutes <= 0:
        return 1.0
    if minutes >= dia:
        return 0.0
    tau, a, s = _curve(peak, dia)
    return 1 - s * (1 - a) * ((minutes**2 / (tau * dia * (1 - a)) - minutes / tau - 1) * math.exp(-minutes / tau) + 1)


def activity_fraction(minutes: np.ndarray, peak: float = PEAK_MIN, dia: float = DIA_MIN) -> np.ndarray:
    """The share of a dose acting per minute `minutes` after it (oref0's activityContrib for 1 U), 0 outside the
    action: the rate at which iob_fraction falls."""
    tau, a, s = _curve(peak, dia)
    acting = (minutes > 0) & (minutes < dia)
    m = np.where(acting, minutes, 0.0)
    return np.where(acting, s / tau**2 * m * (1 - m / dia) * np.exp(-m / tau), 0.0)


@dataclass
class Decision:
    """One cycle's outcome: the automatic rate, why, and a correction bolus (0: none)."""

    rate: float
    zone: Zone
    correction: float
    predicted: float
    iob: float


@dataclass
class AutoDesign(ABC):
    """What every auto-mode design shares. The pump calls `cycle` at each fresh CGM value for the cycle's rate and
    correction. `doses` is the pump's own log of net insulin (time s, U): every bolus, and the automatic basal's
    difference from the profile."""

    settings: AutoSettings
    profile_rate: Callable[[], float]
    increment: float
    defects: Defects
    doses: list[tuple[float, float]]
    last_correction_s: float = -math.inf
    # when the user's last bolus started, was cancelled or ended (the pump's clock)
    last_user_bolus_s: Callable[[], float] = lambda: -math.inf
    values: list[tuple[float, float]] = field(default_factory=list)  # (taken s, mg/dL) of the last 42.5 min

    @abstractmethod
    def cycle(self, now: float, taken_s: float, glucose: float, from_trend: float) -> Decision:
        """The decision on a fresh value taken at taken_s; from_trend: the value plus 30 min of the CGM's trend."""

    def remember(self, taken_s: float, glucose: float) -> None:
        """A fresh value into the CGM values of the last 42.5 min (oref0's oldest delta, lib/glucose-get-last.js)."""
        oldest = LONG_DELTA_MIN[1] * 60.0
        self.values = [(t, g) for t, g in self.values if taken_s - t < oldest] + [(taken_s, glucose)]

    def iob(self, now: float) -> float:
        return sum(units * iob_fraction((now - t) / 60.0) for t, units in self.doses if now - t < DIA_MIN * 60.0)

    def activity(self, now: float, ahead_min: np.ndarray) -> np.ndarray:
        """The insulin acting (U/min) at each of `ahead_min` minutes from now, from the doses logged so far."""
        if not self.doses:
            return np.zeros_like(ahead_min)
        t, units = np.asarray(self.doses).T
        ages = (now - t)[None, :] / 60.0 + ahead_min[:, None]
        return activity_fraction(ages) @ units

    def max_rate(self) -> float:
        """oref0's max temporary basal: min(max_basal, 3 × the highest scheduled basal, 4 × the current basal); the
        profile is one rate, so both multipliers apply to it."""
        if self.defects.aid_no_max_basal_cap:
            return math.inf
        profile = self.profile_rate()
        return min(self.settings.max_basal, MAX_DAILY_MULTIPLIER * profile, CURRENT_MULTIPLIER * profile)


@dataclass
class AutoMode(AutoDesign):
    """The zones design: Control-IQ's zones on the 30-min prediction, oref0's sizes, corrections at most one an
    hour."""

    def cycle(self, now: float, taken_s: float, glucose: float, from_trend: float) -> Decision:
        return self.decide(now, glucose, self.predicted(taken_s, glucose, from_trend))

    def predicted(self, taken_s: float, glucose: float, from_trend: float) -> float:
        """The prediction the rules act on, for a fresh value taken at taken_s: the lower of the trend's (from_trend)
        and the value plus 30 min of its average rate of change since the values 20-40 min before (none there: the
        trend's alone)."""
        self.remember(taken_s, glucose)
        newest = LONG_DELTA_MIN[0] * 60.0
        slopes = [(glucose - g) / ((taken_s - t) / 60.0) for t, g in self.values if newest < taken_s - t]
        if not slopes:
            return from_trend
        return min(from_trend, glucose + HORIZON_MIN * sum(slopes) / len(slopes))

    def decide(self, now: float, glucose: float, predicted: float) -> Decision:
        """The cycle's rate and correction for the prediction, under the zones, the caps and max_iob."""
        s, profile = self.settings, self.profile_rate()
        iob = 0.0 if self.defects.aid_ignores_iob else self.iob(now)
        judged = glucose if self.defects.aid_no_falling_guard else predicted
        sign = -1.0 if self.defects.aid_iob_added_to_eventual else 1.0  # seeded: the insulin on board added
        if self.defects.aid_prediction_ignores_iob:  # seeded: the trend alone, max_iob still on board
            sign = 0.0
        required = (judged - sign * iob * s.isf - s.target) / s.isf
        headroom = max(0.0, s.max_iob - iob)
        if judged <= STOP_AT_OR_BELOW:
            zone, rate = Zone.STOP, 0.0
        elif judged < REDUCE_BELOW:
            zone, rate = Zone.REDUCE, min(profile, max(0.0, profile + required / TEMP_BASAL_H))
        elif judged <= INCREASE_ABOVE:
            zone, rate = Zone.PROFILE, profile
        else:
            extra = min(max(0.0, required), headroom)
            zone, rate = Zone.INCREASE, max(profile, min(self.max_rate(), profile + extra / TEMP_BASAL_H))
        correction = 0.0
        held = now - self.last_user_bolus_s() < USER_BOLUS_HOLD_S and not self.defects.aid_corrects_after_user_bolus
        if judged >= CORRECT_AT_OR_ABOVE and now - self.last_correction_s >= CORRECTION_INTERVAL_S and not held:
            if self.defects.aid_correction_ignores_user_bolus:  # seeded: the user's bolus left out of both
                iob = iob - self.user_bolus_iob(now)
                headroom = max(0.0, s.max_iob - iob)
            wanted = CORRECTION_SHARE * (judged - s.target) / s.isf - iob
            scale = self.defects.aid_correction_scale  # seeded: 10 is a units error in the amount commanded
            correction = in_increments(in_increments(min(wanted, headroom), self.increment) * scale, self.increment)
        return Decision(in_increments(rate, self.increment), zone, max(0.0, correction), predicted, iob)

    def user_bolus_iob(self, now: float) -> float:
        """For the seeded aid_correction_ignores_user_bolus only: the insulin on board of the user's last bolus, the
        strokes the pump logged one by one in the 20 min up to its end (an automatic correction, held for 60 min
        after a user's bolus, is never among them)."""
        end = self.last_user_bolus_s()
        return sum(
            u * iob_fraction((now - t) / 60.0)
            for t, u in self.doses
            if end - USER_BOLUS_SPAN_S <= t <= end and abs(u - self.increment) < 1e-9
        )


def in_increments(value: float, increment: float) -> float:
    """A rate or an amount in the pump's increments, rounded down (never more than the rules allow)."""
    return math.floor(value / increment + 1e-9) * increment if math.isfinite(value) else value
