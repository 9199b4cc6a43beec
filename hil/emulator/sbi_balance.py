"""An emulated precision balance speaking Sartorius SBI: the SBI front end of the weighing model
(hil/emulator/weighing.py), as a Secura/Quintix/Cubis balance set to "SBI", manual output without stability,
16-character lines, in grams. The protocol details and their sources are in hil/drivers/sartorius_sbi.py.

Commands are ESC and a token; the line ends in LF (CR optional), which the manuals make optional but the
emulator's line-based endpoint needs. ``ESC P`` prints the display: sign, the weight right-aligned in 9
characters, a space, and the unit ``g`` when stable or blanks when not; ``High``/``Low`` in over/underload.
``ESC U`` (tare) and ``ESC V`` (zero) answer nothing, as on the balance, and [E] act only on a stable display
within the weighing range (the key press is ignored otherwise: a balance whose tare needs stability).
``ESC x1_``/``x2_``/``x3_`` print the model, serial number and software version. SBI has no error reply: a
command it does not know, or a line that is not ASCII, is ignored.
"""

from hil.emulation.options import SBI_WEIGHT_FIELD
from hil.emulator.weighing import WeighingModel

OVERLOAD_LINE = "      High    "  # Quintix operating instructions, "Special Outputs" (16 characters without CR LF)
UNDERLOAD_LINE = "      Low     "


class EmulatedSbiBalance:
    streaming = False  # SBI's auto print is a menu setting: this emulated balance prints on ESC P only

    def __init__(self, model: WeighingModel):
        self.model = model

    def _output(self) -> str:
        weighing = self.model.weigh()
        if weighing.overload:
            return OVERLOAD_LINE
        if weighing.underload:
            return UNDERLOAD_LINE
        assert weighing.net_g is not None  # a weight, neither over- nor underloaded
        decimals = self.model.params.display_decimals
        sign = "-" if weighing.net_g < 0 else "+"
        return f"{sign}{abs(weighing.net_g):{SBI_WEIGHT_FIELD}.{decimals}f} {'g' if weighing.stable else ' '}  "

    def handle(self, line: bytes) -> list[str]:
        """Replies (without CR LF) to one command line: none for a key command or one it does not know."""
        params = self.model.params
        match line:
            case b"\x1bP":
                return [self._output()]
            case b"\x1bU":
                if self.model.stable() and self.model.in_range():
                    self.model.tare()
            case b"\x1bV":
                if self.model.stable() and self.model.in_range() and not self.model.beyond_zero_range():
                    self.model.zero()
            case b"\x1bx1_":
                return [params.model]
            case b"\x1bx2_":
                return [params.serial]
            case b"\x1bx3_":
                return [params.software]
        return []
