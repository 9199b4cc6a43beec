"""Low-glucose suspend in the emulated firmware, with the published SmartGuard parameters
(docs/references.md, "Low-glucose suspend rules"):

* suspend before low: SG within 70 mg/dL above the low limit AND predicted ≤ limit + 20 within 30 min;
* suspend on low: SG ≤ limit, with a HIGH-priority alarm;
* at least 30 min suspended; auto-resume when SG ≥ limit + 20 and predicted > limit + 40 within 30 min;
* at most 2 h, then resume with an alert; after a manual resume no automatic suspend for 30 min;
* CGM values missing for 20 min while suspended: resume the basal and alert (Control-IQ reverts to the profile
  when CGM is missing > 20 min).
The prediction is linear over the last four CGM values within 20 min (Basal-IQ's published method; SmartGuard's
own predictor is not published): the value plus 30 min of the trend the CGM sends with it (a CGM's rate of
change over the last 15-20 min); a value sent without a trend gets the firmware's own fit of that slope.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_SUSPEND_S = 30 * 60.0
MAX_SUSPEND_S = 2 * 3600.0
CGM_LOSS_S = 20 * 60.0
LOCKOUT_AFTER_USER_RESUME_S = 30 * 60.0
HORIZON_MIN = 30.0


@dataclass
class SuspendSettings:
    low_limit: float = 60.0  # mg/dL, settable 50-90 (SmartGuard default 60)
    before_low: bool = False
    on_low: bool = False


class GlucoseSuspend:
    def __init__(
        self,
        settings: SuspendSettings,
        defects,
        now: Callable[[], float],
        at: Callable,
        suspend: Callable[[str], None],
        resume: Callable[[str], None],
        alarm: Callable[[str, str], object],  # what it returns is not used
    ):
        self.settings = settings
        self.defects = defects
        self.now, self.at = now, at
        self._suspend, self._resume, self._alarm = suspend, resume, alarm
        self.history: list[tuple[float, float]] = []
        self.suspended_at: float | None = None
        self.lockout_until = -1.0
        self._pending: str | None = None  # a seeded late suspend waits one CGM value
        self.blocked = False  # seeded: a stuck "bolus in progress" flag keeps the suspend rules from running
        self._max_event = self._loss_event = None

    def predicted(self, trend: float | None = None) -> float:
        """Glucose 30 min ahead: the last value plus 30 min of the CGM's trend; without one, linear over the last
        four values within 20 min (one value: no trend)."""
        if trend is not None:
            return float(self.history[-1][1] + trend * HORIZON_MIN)
        t_now = self.history[-1][0]
        recent = [(t, g) for t, g in self.history[-4:] if t_now - t <= CGM_LOSS_S]
        if len(recent) < 2:
            return recent[-1][1]
        t, g = np.array(recent).T
        slope_per_min = np.polyfit((t - t[-1]) / 60.0, g, 1)[0]
        return float(g[-1] + slope_per_min * HORIZON_MIN)

    def on_cgm(self, glucose: float, trend: float | None = None) -> None:
        t = self.now()
        self.history = (self.history + [(t, glucose)])[-4:]
        self._arm_loss_timer()
        limit, predicted = self.settings.low_limit, self.predicted(trend)
        if self.suspended_at is not None:
            long_enough = t - self.suspended_at >= MIN_SUSPEND_S
            if (
                long_enough
                and glucose >= limit + 20
                and predicted > limit + 40
                and not self.defects.lgs_never_auto_resumes
            ):
                self._end("GLUCOSE")
            return
        if t < self.lockout_until or self.blocked:
            return
        if self._pending:
            pending, self._pending = self._pending, None
            self._begin(pending)
            return
        kind: str | None = None
        if self.settings.on_low and glucose <= limit:
            kind = "ON_LOW"
        elif (
            self.settings.before_low
            and not self.defects.lgs_ignores_prediction
            and glucose <= limit + 70
            and predicted <= limit + 20
        ):
            kind = "BEFORE_LOW"
        if kind and self.defects.lgs_suspend_one_interval_late:
            self._pending = kind
        elif kind:
            self._begin(kind)

    def _begin(self, kind: str) -> None:
        self.suspended_at = self.now()
        self._suspend(kind)
        if kind == "ON_LOW":
            self._alarm("LOW_GLUCOSE", "HIGH")
        if not self.defects.lgs_no_max_duration:
            self._max_event = self.at(self.suspended_at + MAX_SUSPEND_S, self._max_reached)

    def _max_reached(self) -> None:
        self._end("MAX_DURATION")
        self._alarm("SUSPEND_MAX_DURATION", "MEDIUM")

    def _arm_loss_timer(self) -> None:
        if self._loss_event:
            self._loss_event.cancel()
        self._loss_event = self.at(self.now() + CGM_LOSS_S, self._cgm_lost)

    def _cgm_lost(self) -> None:
        self._loss_event = None
        if self.suspended_at is not None:
            self._end("CGM_LOST")
            self._alarm("CGM_LOST", "MEDIUM")

    def _end(self, reason: str) -> None:
        if self._max_event:
            self._max_event.cancel()
            self._max_event = None
        self.suspended_at = None
        self._resume(reason)

    def cancel(self) -> None:
        """The user suspended or stopped the pump: an automatic suspension ends without a resume."""
        self.blocked = False
        if self._max_event:
            self._max_event.cancel()
            self._max_event = None
        self.suspended_at = None

    def user_resumed(self) -> None:
        """A manual resume that ends an automatic suspension locks the feature out for 30 min."""
        if self.suspended_at is not None:
            self.cancel()
            self.lockout_until = self.now() + LOCKOUT_AFTER_USER_RESUME_S
