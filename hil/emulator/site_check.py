"""The emulated firmware's infusion-site check: a leaking connector or a dislodged cannula takes away the tissue
back-pressure the line rests at, which occlusion detection (a high-pressure threshold) cannot see
(docs/references.md, "Insertion-site faults"). Before every basal stroke the firmware reads the resting pressure;
it learns the site's level over the first readings after a prime, then raises CHECK_SITE when the mean of the last
readings falls below a share of it. Unacknowledged, the alarm escalates to HIGH. Parameters: PumpParams.site_*.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from hil.emulation.options import Defects, PumpParams

if TYPE_CHECKING:  # the pump imports this module
    from hil.emulator.pump import Alarm

LEAK_BLIND_FRACTION = 0.1  # seeded: only a site that lost 90 % of its back-pressure is noticed
OVERSENSITIVE_FRACTION = 0.95  # seeded: a 5 % dip, within the sensor noise of a mean, is taken for a fault


class SiteCheck:
    def __init__(
        self,
        params: PumpParams,
        defects: Defects,
        rng: np.random.Generator,
        at: Callable,
        read_pressure: Callable[[], float],
        raise_alarm: Callable[[str, str], "Alarm | None"],
        escalate: Callable[["Alarm"], None],
    ):
        self.p, self.defects, self.rng = params, defects, rng
        self.at, self.read_pressure = at, read_pressure
        self.raise_alarm, self.escalate = raise_alarm, escalate
        self.readings: list[float] = []
        self.learned_kPa: float | None = None

    @property
    def drop_fraction(self) -> float:
        if self.defects.site_leak_detection_disabled:
            return LEAK_BLIND_FRACTION
        if self.defects.site_detector_oversensitive:
            return OVERSENSITIVE_FRACTION
        return self.p.site_drop_fraction

    def relearn(self) -> None:
        """A prime means a new set: learn its resting pressure again."""
        self.readings, self.learned_kPa = [], None

    def before_basal_stroke(self) -> None:
        if not self.p.site_check:
            return
        reading = self.read_pressure() + self.p.pressure_noise_kPa * self.rng.standard_normal()
        if self.learned_kPa is None:
            self.readings.append(reading)
            if len(self.readings) >= self.p.site_learn_strokes:
                self.learned_kPa, self.readings = float(np.mean(self.readings)), []
            return
        self.readings = (self.readings + [reading])[-self.p.site_window_strokes :]
        if (
            len(self.readings) == self.p.site_window_strokes
            and np.mean(self.readings) < self.drop_fraction * self.learned_kPa
        ):
            alarm = self.raise_alarm("CHECK_SITE", self.defects.site_alarm_priority or self.p.site_alarm_priority)
            if alarm is not None and not self.defects.site_alarm_no_escalation:
                self.at(alarm.raised_s + self.p.alarm_escalation_s, lambda: self.escalate(alarm))
