"""An emulated precision balance speaking MT-SICS level 0/1 (S, SI, SIR, Z, T, @, I2, I4): the MT-SICS front
end of the weighing model (hil/emulator/weighing.py).

Replies follow the MT-SICS reference manual: ``S S <value> g`` stable, ``S D`` dynamic, ``S I`` not executable
now, ``S +``/``S -`` over/underload, ``ES`` syntax error, ``ET`` transmission error, ``EL`` logical error.
"""

from hil.emulation.options import BalanceFault
from hil.emulator.weighing import WeighingModel


class EmulatedMtSicsBalance:
    def __init__(self, model: WeighingModel):
        self.model = model
        self.streaming = False

    def _format(self, grams: float) -> str:
        decimals = self.model.params.display_decimals
        unit = "mg" if self.model.params.fault is BalanceFault.UNIT_MG else "g"
        return f"{grams:{10 + decimals}.{decimals}f} {unit}"

    def _weight(self, command: str, require_stable: bool) -> str:
        weighing = self.model.weigh()
        if weighing.overload:
            return f"{command} +"
        if weighing.underload:
            return f"{command} -"
        if require_stable and not weighing.stable:
            return f"{command} I"
        assert weighing.net_g is not None  # a weight, neither over- nor underloaded
        return f"{command} {'S' if weighing.stable else 'D'} {self._format(weighing.net_g)}"

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
        params = self.model.params
        if command == "S":
            return [self._weight("S", require_stable=True)]
        if command == "SI":
            word = "SI" if self.model.params.fault is BalanceFault.SI_ECHO else "S"
            return [self._weight(word, require_stable=False)]
        if command == "SIR":
            self.streaming = True
            return [self._weight("S", require_stable=False)]
        if command == "Z":
            if not self.model.stable():
                return ["Z I"]
            beyond = self.model.beyond_zero_range()
            if beyond:
                return ["Z +" if beyond > 0 else "Z -"]
            self.model.zero()
            return ["Z A"]
        if command == "T":
            if not self.model.stable():
                return ["T I"]
            return [f"T S {self._format(self.model.grams(self.model.tare()))}"]
        if command == "@":
            self.streaming = False
            return [f'I4 A "{params.serial}"']
        if command == "I2":
            return [f'I2 A "{params.model} {params.capacity_g:g} g"']
        if command == "I4":
            return [f'I4 A "{params.serial}"']
        return ["ES"]

    def stream_reading(self) -> str | None:
        """The next SIR line, when streaming."""
        return self._weight("S", require_stable=False) if self.streaming else None
