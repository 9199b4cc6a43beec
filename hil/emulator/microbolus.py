"""The second auto-mode design: OpenAPS oref0 with super micro boluses (SMB), no correction spacing. At every fresh
CGM value the pump predicts glucose from its deltas and its insulin on board, sets a temporary rate and, while
glucose is high and no low is predicted, gives a share of the insulin required as a microbolus, as often as every
3 min; the insulin on board (max_iob) bounds it all. The rules are oref0 0.7.1's own (MIT; github.com/openaps/oref0,
tag v0.7.1, commit 69d76737eb84e338b7a794d0784011c161ffcc54), each with its lines
(docs/references.md, "OpenAPS oref0 with super micro boluses"):

lib/glucose-get-last.js, getLastGlucose (lines 25-88): the deltas, in mg/dL per 5 min, from the values taken
~5 min (delta), ~5-15 min (short_avgdelta) and ~20-40 min (long_avgdelta) before the newest, each the average of
(newest − then) / minutes × 5; values within 2.5 min of the newest are averaged into it; values of 38 or less are no
glucose. A CGM whose noise is a few mg/dL, correlated over minutes, moves these by little, and the rules dose on the
lower ones.

lib/determine-basal/determine-basal.js, determine_basal:
* a flat trace is a stuck sensor (lines 177-185, 198-221): glucose > 60, delta 0 and both averages within ±1 mg/dL:
  nothing new, a raised rate back to the profile (the "neutral temp"); oref0 doses on its simulator's flat values
  ("fakecgm"), as the rig option `simulated_cgm` does;
* minDelta = min(delta, short_avgdelta), minAvgDelta = min(short_avgdelta, long_avgdelta), maxDelta the largest of the
  three (164-166);
* threshold = target − (target − 40) / 2 (329; the target is min_bg = max_bg);
* BGI = −activity × ISF × 5, the deviation 30 min of (minDelta − BGI), of minAvgDelta and then long_avgdelta when
  negative (398-408); eventual glucose = glucose − IOB × ISF + deviation (411-417); expectedDelta (31-36, 423);
* predictions 4 h ahead in 5-min steps on the insulin's activity, the deviation fading over 60 min (574-639, the IOB
  line: no carbs); minGuardBG its lowest, minPredBG its lowest after 90 min, no higher than its end (704-707, 786);
* SMB enabled on a high glucose, glucose ≥ 110 (enable_smb, 112-122: enableSMB_high_bg with its default target;
  oref0's profile warns against enableSMB_always with a noisy CGM), disabled when minGuardBG < threshold (862-866)
  or maxDelta > 20 % of the glucose (869-880);
* glucose or minGuardBG below the threshold: a zero temp (908-921), unless the insulin on board is below −20 min of
  basal with glucose rising faster than expected;
* eventual glucose below target: a low temp, profile + 2 × 2 × (eventual − target) / ISF, scaled by minDelta /
  expectedDelta while barely falling, a zero temp at or below 0 (953-1004);
* without SMB: the profile while falling faster than expected or the lower prediction in range (1008-1038);
* IOB above max_iob: the profile (1045-1053);
* insulinReq = (min(minPredBG, eventual) − target) / ISF, cut to max_iob − IOB (1058-1063); the rate profile +
  2 × insulinReq (1066);
* the microbolus (1076-1160): min(insulinReq / 2, maxBolus) rounded down to the increment, maxBolus = the profile's
  30 min (maxSMBBasalMinutes and maxUAMSMBBasalMinutes 30, lib/profile/index.js defaults, line 57-58), given when the
  last bolus (the pump's or the user's) is more than SMBInterval 3 min (line 59) old; with it a low temp when the
  prediction (naive eventual and minPredBG) is below target: 0 for 30-60 min, or a share of the profile for 30 min;
* the rate never above max_basal, 3 × and 4 × the profile (lib/basal-set-temp.js getMaxSafeBasal, lines 10-16).

Not modelled, with why: carbs, COB and unannounced-meal predictions (the pump has no meal data: the IOB line is the
lower one, lines 781-782 take the higher), autosens and temp targets (no such settings), the zero-temp prediction that
only raises avgPredBG (723-726), the "rising faster than expected" exception at 933-951 (it needs carbsReq, which
needs a carb ratio), the running temp's bookkeeping (the pump sets each cycle's rate; a temp ends at its duration, 30
min unless said), Bolus Wizard (A52) checks (a Medtronic link fault). The rate is in the pump's increments, rounded
down.
"""

import math
from dataclasses import dataclass

import numpy as np

from hil.emulator.auto_mode import AutoDesign, Decision, Zone, in_increments

FIVE_MIN = 5.0
SMB_HIGH_BG = 110.0  # enableSMB_high_bg_target (lib/profile/index.js)
MAX_DELTA_SHARE = 0.2  # maxDelta_bg_threshold: no SMB on a rise over 20 % of the glucose in 5 min
SMB_BASAL_MIN = 30.0  # maxSMBBasalMinutes = maxUAMSMBBasalMinutes: the largest SMB is 30 min of the profile
SMB_SHARE = 0.5  # an SMB is half the insulin required
SMB_INTERVAL_S = 3 * 60.0  # SMBInterval: at most one SMB per 3 min
TEMP_MIN = 30.0  # oref0's temporary basals last 30 min
LOW_TEMP_MAX_MIN = 120.0  # a zero temp for a low lasts 30-120 min
SMB_ZERO_TEMP_MAX_MIN = 60.0  # a zero temp with an SMB lasts at most 60 min
TICKS = 48  # 4 h of predictions in 5-min steps (lib/iob/index.js)
MIN_PRED_FROM_TICK = 17  # minPredBG from the prediction 90 min ahead (insulinPeakTime 90)
DEVIATION_TICKS = 12.0  # the deviation fades over 60 min
NO_GLUCOSE_AT_OR_BELOW = 38.0  # lib/glucose-get-last.js: only values above 38 are glucose


def _round(value: float, digits: int = 0) -> float:
    """JavaScript's Math.round at `digits` decimals (halves up), as oref0 rounds."""
    scale = 10.0**digits
    return math.floor(value * scale + 0.5) / scale


def _basal_minutes(units: float, basal: float, longest: float) -> float:
    """How many whole minutes of the profile basal `units` are (oref0's durationReq), at most `longest`: a profile of
    0 makes any insulin the longest."""
    if basal <= 0:
        return longest if units > 0 else 0.0
    return min(longest, _round(60 * units / basal))


@dataclass(frozen=True)
class GlucoseStatus:
    """The newest glucose and its deltas (mg/dL per 5 min), as oref0's getLastGlucose gives them."""

    glucose: float
    delta: float
    short_avgdelta: float
    long_avgdelta: float


def glucose_status(values: list[tuple[float, float]]) -> GlucoseStatus:
    """oref0's getLastGlucose (lib/glucose-get-last.js) over (taken s, mg/dL), oldest first, the newest last."""
    now_t, now_g = values[-1]
    last, short, long = [], [], []
    for then_t, then_g in reversed(values[:-1]):
        if then_g <= NO_GLUCOSE_AT_OR_BELOW:
            continue
        minutes = _round((now_t - then_t) / 60.0)
        if -2 < minutes < 2.5:  # the same reading twice: their average is the newest
            now_g, now_t = (now_g + then_g) / 2, (now_t + then_t) / 2
        elif 2.5 < minutes < 17.5:
            short.append((now_g - then_g) / minutes * FIVE_MIN)
            if minutes < 7.5:
                last.append(short[-1])
        elif 17.5 < minutes < 42.5:
            long.append((now_g - then_g) / minutes * FIVE_MIN)
    mean = [_round(sum(d) / len(d), 2) if d else 0.0 for d in (last, short, long)]
    return GlucoseStatus(_round(now_g, 2), *mean)


@dataclass(frozen=True)
class Prediction:
    """What determine_basal doses on (mg/dL)."""

    bgi: float  # the glucose change from the insulin acting now, per 5 min
    eventual: float
    naive_eventual: float
    expected_delta: float
    min_guard: float  # the prediction's lowest
    min_iob_pred: float  # its lowest from 90 min on
    min_pred: float


@dataclass
class Microbolus(AutoDesign):
    """oref0's determine_basal with SMB enabled on a high glucose, on the pump's settings: target (min_bg = max_bg),
    isf, max_basal and max_iob."""

    simulated_cgm: bool = False  # oref0's "fakecgm": a flat trace is dosed on, not taken for a stuck sensor
    rate_until_s: float = -math.inf  # when the temporary rate in effect ends (oref0's temp duration)
    rate: float | None = None  # the temporary rate in effect (None: the profile)

    def cycle(self, now: float, taken_s: float, glucose: float, from_trend: float) -> Decision:
        self.remember(taken_s, glucose)
        status = glucose_status(self.values)
        iob = self.iob(now)
        if self._stuck(status):
            return self._hold(now, status.glucose, iob)
        return self.decide(now, status, iob)

    def _stuck(self, g: GlucoseStatus) -> bool:
        """oref0's tooflat: unchanged over 5 min and within ±1 mg/dL per 5 min over 15 and 45 min."""
        flat = g.delta == 0 and -1 < g.short_avgdelta < 1 and -1 < g.long_avgdelta < 1
        return g.glucose > 60 and flat and not self.simulated_cgm

    def _hold(self, now: float, glucose: float, iob: float) -> Decision:
        """Nothing new on a stuck sensor: a raised rate back to the profile, a lower one until its temp ends."""
        profile = self.profile_rate()
        if self.rate is None or self.rate > profile or now >= self.rate_until_s:
            return self._temp(now, profile, TEMP_MIN, 0.0, glucose, iob)
        return Decision(self.rate, _zone(self.rate, profile), 0.0, glucose, iob)

    def predict(self, now: float, g: GlucoseStatus, iob: float) -> Prediction:
        """eventualBG, its naive part and the 4-h IOB prediction's minimums (determine-basal.js 394-423, 550-786)."""
        s = self.settings
        activity = self.activity(now, np.arange(TICKS) * FIVE_MIN)
        bgi = _round(-activity[0] * s.isf * FIVE_MIN, 2)
        min_delta = min(g.delta, g.short_avgdelta)
        deviation = _round(6 * (min_delta - bgi))
        for fallback in (min(g.short_avgdelta, g.long_avgdelta), g.long_avgdelta):
            if deviation < 0:
                deviation = _round(6 * (fallback - bgi))
        naive = _round(g.glucose - iob * s.isf)
        eventual = naive + deviation
        ci = _round(min_delta - bgi, 1)
        pred, min_guard, min_iob_pred = g.glucose, 999.0, 999.0
        for k, acting in enumerate(activity):
            pred += _round(-acting * s.isf * FIVE_MIN, 2) + ci * (1 - min(1.0, (k + 1) / DEVIATION_TICKS))
            min_guard = min(min_guard, _round(pred))
            if k >= MIN_PRED_FROM_TICK:
                min_iob_pred = min(min_iob_pred, _round(pred))
        min_iob_pred = max(39.0, min_iob_pred)
        expected = _round(bgi + (s.target - eventual) / 24, 1)
        return Prediction(bgi, eventual, naive, expected, min_guard, min_iob_pred, min(min_iob_pred, _round(pred)))

    def decide(self, now: float, g: GlucoseStatus, iob: float) -> Decision:
        """The cycle's temporary rate and microbolus (determine-basal.js 862-1188)."""
        s, basal, bg = self.settings, self.profile_rate(), g.glucose
        p = self.predict(now, g, iob)
        threshold = s.target - 0.5 * (s.target - 40)
        min_delta = min(g.delta, g.short_avgdelta)
        max_delta = max(g.delta, g.short_avgdelta, g.long_avgdelta)
        smb = bg >= SMB_HIGH_BG and p.min_guard >= threshold and max_delta <= MAX_DELTA_SHARE * bg
        rising_from_negative_iob = iob < -basal * 20 / 60 and min_delta > 0 and min_delta > p.expected_delta
        if (bg < threshold and not rising_from_negative_iob) or (bg >= threshold and p.min_guard < threshold):
            minutes = _round(_basal_minutes((s.target - p.min_guard) / s.isf, basal, LOW_TEMP_MAX_MIN) / 30) * 30
            return self._temp(now, 0.0, min(LOW_TEMP_MAX_MIN, max(TEMP_MIN, minutes)), 0.0, p.eventual, iob)
        if p.eventual < s.target:
            return self._low_temp(now, p, min_delta, iob)
        if not smb and (min_delta < p.expected_delta or min(p.eventual, p.min_pred) < s.target):
            return self._temp(now, basal, TEMP_MIN, 0.0, p.eventual, iob)
        if iob > s.max_iob:
            return self._temp(now, basal, TEMP_MIN, 0.0, p.eventual, iob)
        required = min(_round((min(p.min_pred, p.eventual) - s.target) / s.isf, 2), s.max_iob - iob)
        rate = basal + 2 * required
        bolus = 0.0
        if smb and bg > threshold:
            largest = _round(basal * SMB_BASAL_MIN / 60, 1)
            bolus = in_increments(max(0.0, min(required * SMB_SHARE, largest)), self.increment)
            if now - max(self.last_correction_s, self.last_user_bolus_s()) <= SMB_INTERVAL_S:
                bolus = 0.0
            low_temp = self._smb_low_temp(p, required, bolus, basal)
            if low_temp is not None:
                return self._temp(now, *low_temp, bolus, p.eventual, iob)
        return self._temp(now, rate, TEMP_MIN, bolus, p.eventual, iob)

    def _low_temp(self, now: float, p: Prediction, min_delta: float, iob: float) -> Decision:
        """Eventual glucose below target: a 30-min low temp to bring it up, a zero temp when that is 0 or less."""
        s, basal = self.settings, self.profile_rate()
        required = _round(2 * min(0.0, (p.eventual - s.target) / s.isf), 2)
        if 0 > min_delta > p.expected_delta:  # barely falling: barely less insulin
            required = _round(required * (min_delta / p.expected_delta), 2)
        rate = basal + 2 * required
        minutes = TEMP_MIN
        if rate <= 0:  # a zero temp long enough to bring the naive eventual glucose up to target, else 30 min
            needed = _basal_minutes((s.target - p.naive_eventual) / s.isf, basal, LOW_TEMP_MAX_MIN)
            minutes = min(LOW_TEMP_MAX_MIN, _round(needed / 30) * 30) if needed > 0 else TEMP_MIN
            minutes = minutes if minutes > 0 else TEMP_MIN
        return self._temp(now, rate, minutes, 0.0, p.eventual, iob)

    def _smb_low_temp(self, p: Prediction, required: float, bolus: float, basal: float) -> tuple[float, float] | None:
        """With SMB on, a low temp (rate, minutes) while the worst case is below target, None when none is needed."""
        worst = (self.settings.target - (p.naive_eventual + p.min_iob_pred) / 2) / self.settings.isf
        minutes = _basal_minutes(worst, basal, math.inf)
        if (required > 0 and bolus < self.increment) or minutes <= 0:
            return None
        if minutes >= TEMP_MIN:
            return 0.0, min(SMB_ZERO_TEMP_MAX_MIN, _round(minutes / 30) * 30)
        return _round(basal * minutes / 30, 2), TEMP_MIN

    def _temp(self, now: float, rate: float, minutes: float, bolus: float, predicted: float, iob: float) -> Decision:
        """A temporary rate for `minutes` (between 0 and the caps, in the pump's increments) and a microbolus."""
        profile = self.profile_rate()
        rate = max(0.0, rate)
        if rate > profile:
            rate = max(profile, min(rate, self.max_rate()))
        rate = in_increments(rate, self.increment)
        self.rate, self.rate_until_s = rate, now + minutes * 60.0
        return Decision(rate, _zone(rate, profile), bolus, predicted, iob)


def _zone(rate: float, profile: float) -> Zone:
    """The AUTO_BASAL event's word for a rate: stopped, below, at or above the profile."""
    if rate == 0:
        return Zone.STOP
    if rate < profile - 1e-9:
        return Zone.REDUCE
    return Zone.INCREASE if rate > profile + 1e-9 else Zone.PROFILE
