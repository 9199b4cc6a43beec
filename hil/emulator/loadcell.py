"""An emulated CAN load cell on the collecting vessel: its own low-pass filter, noise and resolution,
sampled at its streaming rate (distinct from the precision balance on the same vessel)."""

import math
from collections.abc import Callable

import numpy as np

from hil.emulation.options import LoadCellParams
from hil.emulator.bench import Bench


class EmulatedLoadCell:
    def __init__(self, params: LoadCellParams, bench: Bench, rng: np.random.Generator, now: Callable[[], float]):
        self.p = params
        self.bench = bench
        self.rng = rng
        self.now = now
        self.filtered_mg = bench.indication_mg
        self._t = now()
        self.tare_mg = 0.0

    def _filter(self) -> float:
        t = self.now()
        alpha = 1.0 - math.exp(-max(0.0, t - self._t) / self.p.filter_tau_s)
        self.filtered_mg += (self.bench.indication_mg - self.filtered_mg) * alpha
        self._t = t
        return self.filtered_mg

    def sample(self) -> tuple[float, bool, bool]:
        """(net mass in mg, stable, overload) of one streamed sample."""
        gross = self._filter() + self.p.noise_mg * self.rng.standard_normal()
        stable = abs(self.bench.indication_mg - self.filtered_mg) < self.p.resolution_mg
        net = round((gross - self.tare_mg) / self.p.resolution_mg) * self.p.resolution_mg
        return net, stable, gross > self.p.capacity_g * 1000.0

    def tare(self) -> float:
        self.tare_mg = self._filter()
        return self.tare_mg
