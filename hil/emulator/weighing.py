"""What an emulated balance weighs, whatever protocol it speaks: one weighing model behind the MT-SICS and the
SBI front ends, so both serve the same readings for the same seed.

The display comes from the Bench (settling included); a reading adds white noise at the repeatability and a
random-walk drift, is taken relative to the balance's zero and tare, and is quantised to the readability. It is
an overload above the capacity and an underload below −1 % of it, both relative to the zero.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hil.emulation.options import BalanceFault, BalanceParams
from hil.emulator.bench import Vessel


@dataclass(frozen=True)
class Weighing:
    """One reading as the balance would show it: the net weight quantised to the readability, in g (None in
    overload or underload, which show no weight)."""

    net_g: float | None
    stable: bool
    overload: bool = False
    underload: bool = False


class WeighingModel:
    def __init__(self, params: BalanceParams, vessel: Vessel, rng: np.random.Generator, now: Callable[[], float]):
        self.params = params
        self.vessel = vessel
        self.rng = rng
        self.now = now
        self.tare_mg = 0.0
        self.zero_mg = 0.0
        self.drift_mg = 0.0
        self._drift_t = now()
        self._frozen: Weighing | None = None  # BalanceFault.STUCK: the reading the display froze at

    def _gross_mg(self) -> float:
        t = self.now()
        dt_h = max(0.0, t - self._drift_t) / 3600.0
        if dt_h > 0:
            self.drift_mg += self.params.drift_mg_per_sqrt_h * math.sqrt(dt_h) * self.rng.standard_normal()
            self._drift_t = t
        return self.vessel.display_mg + self.drift_mg + self.params.repeatability_mg * self.rng.standard_normal()

    def stable(self) -> bool:
        """The display has settled to within one readability step of what is on the pan."""
        return self.vessel.settled(self.params.readability_mg)

    def _out_of_range(self, gross_mg: float) -> tuple[bool, bool]:
        """(overload, underload) of a gross weight above the zero."""
        return gross_mg > self.params.capacity_g * 1000.0, gross_mg < -self.params.capacity_g * 10.0

    def in_range(self) -> bool:
        """Neither over- nor underloaded, judged from the display and the drift (no noise sample drawn)."""
        return not any(self._out_of_range(self.vessel.display_mg + self.drift_mg - self.zero_mg))

    def grams(self, mg: float) -> float:
        """A weight as the display shows it: quantised to the readability, in g."""
        step = self.params.readability_mg
        return round(mg / step) * step / 1000.0

    def weigh(self) -> Weighing:
        """A reading now (one noise sample), or the over/underload the balance shows instead; a stuck balance's
        first reading, stable, forever."""
        if self._frozen is not None:
            return self._frozen
        gross = self._gross_mg() - self.zero_mg
        overload, underload = self._out_of_range(gross)
        if overload or underload:
            return Weighing(None, False, overload, underload)
        weighing = Weighing(self.grams(gross - self.tare_mg), self.stable())
        if self.params.fault is BalanceFault.STUCK:
            self._frozen = Weighing(weighing.net_g, True)
        return weighing

    def beyond_zero_range(self) -> int:
        """+1 or −1 when what is on the pan (the display, as in_range) lies above or below the zero-setting range
        about the power-on zero, else 0."""
        limit = self.params.zero_range_pct / 100.0 * self.params.capacity_g * 1000.0
        gross = self.vessel.display_mg + self.drift_mg
        return 1 if gross > limit else -1 if gross < -limit else 0

    def zero(self) -> None:
        """Take what is on the pan as the new zero, and clear the tare."""
        self.zero_mg = self._gross_mg()
        self.tare_mg = 0.0

    def tare(self) -> float:
        """Take what is on the pan (above the zero) as the tare; the tare, mg."""
        self.tare_mg = self._gross_mg() - self.zero_mg
        return self.tare_mg
