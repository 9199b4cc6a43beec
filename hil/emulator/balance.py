"""An emulated precision balance speaking MT-SICS level 0/1 (S, SI, SIR, Z, T, @, I2, I4).

The display comes from the Bench (settling included); a reading adds white noise at the repeatability,
a random-walk drift, and is quantised to the readability. Replies follow the MT-SICS reference manual:
``S S <value> g`` stable, ``S D`` dynamic, ``S I`` not executable now, ``S +``/``S -`` over/underload,
``ES`` syntax error, ``ET`` transmission error, ``EL`` logical error.
"""

import math
from typing import Callable

import numpy as np

from hil.emulator.bench import Vessel
from hil.emulator.config import BalanceParams


class EmulatedBalance:
    def __init__(self, params: BalanceParams, vessel: Vessel, rng: np.random.Generator, now: Callable[[], float]):
        self.params = params
        self.vessel = vessel
        self.rng = rng
        self.now = now
        self.tare_mg = 0.0
        self.zero_mg = 0.0
        self.drift_mg = 0.0
        self._drift_t = now()
        self.streaming = False

    def _gross_mg(self) -> float:
        t = self.now()
        dt_h = max(0.0, t - self._drift_t) / 3600.0
        if dt_h > 0:
            self.drift_mg += self.params.drift_mg_per_sqrt_h * math.sqrt(dt_h) * self.rng.standard_normal()
            self._drift_t = t
        return self.vessel.display_mg + self.drift_mg + self.params.repeatability_mg * self.rng.standard_normal()

    def _stable(self) -> bool:
        return self.vessel.settled(self.params.readability_mg)

    def _format(self, mg: float) -> str:
        step = self.params.readability_mg
        decimals = max(0, -math.floor(math.log10(step / 1000.0) + 1e-9))
        grams = round(mg / step) * step / 1000.0
        return f"{grams:{10 + decimals}.{decimals}f} g"

    def _weight(self, command: str, require_stable: bool) -> str:
        gross = self._gross_mg() - self.zero_mg
        if gross > self.params.capacity_g * 1000.0:
            return f"{command} +"
        if gross < -self.params.capacity_g * 10.0:
            return f"{command} -"
        stable = self._stable()
        if require_stable and not stable:
            return f"{command} I"
        return f"{command} {'S' if stable else 'D'} {self._format(gross - self.tare_mg)}"

    def handle(self, line: bytes) -> list[str]:
        """Replies (without CR LF) to one command line."""
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            return ["ET"]
        if not text.isprintable():
            return ["ET"]
        command, _, rest = text.partition(" ")
        if command in ("S", "SI", "SIR", "Z", "T", "@", "I2", "I4") and rest:
            return ["EL"]
        if command == "S":
            return [self._weight("S", require_stable=True)]
        if command == "SI":
            return [self._weight("S", require_stable=False)]
        if command == "SIR":
            self.streaming = True
            return [self._weight("S", require_stable=False)]
        if command == "Z":
            if not self._stable():
                return ["Z I"]
            self.zero_mg = self._gross_mg()
            self.tare_mg = 0.0
            return ["Z A"]
        if command == "T":
            if not self._stable():
                return ["T I"]
            self.tare_mg = self._gross_mg() - self.zero_mg
            return [f"T S {self._format(self.tare_mg)}"]
        if command == "@":
            self.streaming = False
            return [f'I4 A "{self.params.serial}"']
        if command == "I2":
            return [f'I2 A "{self.params.model} {self.params.capacity_g:g} g"']
        if command == "I4":
            return [f'I4 A "{self.params.serial}"']
        return ["ES"]

    def stream_reading(self) -> str | None:
        """The next SIR line, when streaming."""
        return self._weight("S", require_stable=False) if self.streaming else None
