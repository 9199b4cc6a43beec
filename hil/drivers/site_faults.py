"""Insertion-site fault fixtures: kink the cannula (a raised resistance, or a full block), leak a share of every
stroke at the connector, dislodge the cannula (everything lost, no tissue back-pressure). What is lost goes to a
second vessel on its own balance, so delivered and lost are both weighed. Three implementations behind one
interface (kink, leak, dislodge, restore):

* EmulatorSite — the emulator's control channel (any kink factor or leak share);
* RelayBoardSite — relay channels switching the bench fixtures: a pinch valve (full kink), a fixed restrictor
  (partial kink), a tee to the lost vessel with a fixed split (leak), a diverter valve (dislodge); the fixtures'
  values are declared in the rig file, and a test asking for another is told so;
* OperatorPromptSite — a person sets the fixture when asked; the dialogue is kept as evidence.
"""

import math
from typing import Annotated

from pydantic import BaseModel, Field

from hil.drivers.occlusion_valve import OperatorPromptValve, PromptTimeout, RelayBoard, RelayChannel
from hil.drivers.registry import DeviceKind, DriverOptions, RigContext, SerialOptions
from hil.errors import RigError

PartialKinkFactor = Annotated[
    float, Field(ge=1, le=1e6, description="the restrictor's resistance over the nominal line's")
]
LeakFraction = Annotated[
    float, Field(gt=0, le=1, description="the share of each stroke the leak tee diverts (measured)")
]


class SiteFaultUnavailable(RigError):
    """The rig's fixture cannot produce the fault the test asks for (the test is skipped with this reason)."""


class EmulatorSite:
    """The emulator's infusion site, on its control channel: any kink factor or leak share (registered as
    `emulator-site`)."""

    device = DeviceKind.SITE

    class Options(DriverOptions):
        leak_fraction: LeakFraction | None = Field(
            None, description="the leak share `hil driver check` makes (default 0.3)"
        )

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "EmulatorSite":
        return cls(rig.emulator())

    def __init__(self, control):
        self.control = control

    def kink(self, factor: float = math.inf) -> None:
        """Raise the cannula's resistance by factor; math.inf blocks it."""
        self.control.site("KINK", "FULL" if math.isinf(factor) else f"{factor:g}")

    def leak(self, fraction: float) -> None:
        self.control.site("LEAK", f"{fraction:g}")

    def dislodge(self) -> None:
        self.control.site("DISLODGE")

    def restore(self) -> None:
        self.control.site("NORMAL")

    def disconnect(self) -> None:
        """The control channel is the rig's, which closes it."""


class _FixedFixtures:
    """The fault levels a physical fixture can make, from the rig file."""

    def __init__(self, partial_kink_factor: float | None, leak_fraction: float | None):
        self.partial_kink_factor, self.leak_fraction = partial_kink_factor, leak_fraction

    def _check(self, what: str, asked: float, fitted: float | None) -> None:
        if fitted is None:
            raise SiteFaultUnavailable(f"the rig has no {what} fixture")
        if not math.isclose(asked, fitted, rel_tol=0.02):
            raise SiteFaultUnavailable(f"the rig's {what} fixture makes {fitted:g}, the test asks for {asked:g}")


class SiteChannels(BaseModel):
    """The relay channel of each fixture the bench has."""

    model_config = DriverOptions.model_config
    kink_full: RelayChannel | None = None
    kink_partial: RelayChannel | None = None
    leak: RelayChannel | None = None
    dislodge: RelayChannel | None = None


class RelayBoardSite(_FixedFixtures):
    """One relay channel per fixture (docs/protocol.md §4): ON engages it (registered as `relay-board-site`)."""

    device = DeviceKind.SITE

    class Options(SerialOptions):
        channels: SiteChannels
        partial_kink_factor: PartialKinkFactor | None = None
        leak_fraction: LeakFraction | None = None

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "RelayBoardSite":
        channels = {name: channel for name, channel in options.channels if channel is not None}
        return cls(
            rig.port(options.port),
            channels,
            partial_kink_factor=options.partial_kink_factor,
            leak_fraction=options.leak_fraction,
            baudrate=options.baudrate,
            timeout_s=options.timeout_s,
        )

    def __init__(
        self,
        port: str,
        channels: dict[str, int],
        *,
        partial_kink_factor: float | None = None,
        leak_fraction: float | None = None,
        baudrate: int = 9600,
        timeout_s: float = 2.0,
    ):
        super().__init__(partial_kink_factor, leak_fraction)
        self.board = RelayBoard(port, baudrate=baudrate, timeout_s=timeout_s)
        self.line = self.board.line
        self.channels = channels

    def _engage(self, name: str) -> None:
        if name not in self.channels:
            raise SiteFaultUnavailable(f"the rig's relay board has no '{name}' channel")
        self.board.set(self.channels[name], True)

    def kink(self, factor: float = math.inf) -> None:
        if math.isinf(factor):
            self._engage("kink_full")
        else:
            self._check("partial-kink", factor, self.partial_kink_factor)
            self._engage("kink_partial")

    def leak(self, fraction: float) -> None:
        self._check("leak", fraction, self.leak_fraction)
        self._engage("leak")

    def dislodge(self) -> None:
        self._engage("dislodge")

    def restore(self) -> None:
        for channel in self.channels.values():
            self.board.set(channel, False)

    def disconnect(self) -> None:
        self.line.close()


class OperatorPromptSite(_FixedFixtures):
    """A person sets each fixture when asked (registered as `operator-prompt-site`)."""

    device = DeviceKind.SITE
    prompts_operator = True

    class Options(DriverOptions):
        partial_kink_factor: PartialKinkFactor | None = None
        leak_fraction: LeakFraction | None = None
        timeout_s: PromptTimeout = 300.0

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "OperatorPromptSite":
        return cls(
            partial_kink_factor=options.partial_kink_factor,
            leak_fraction=options.leak_fraction,
            timeout_s=options.timeout_s,
        )

    def __init__(
        self, *, partial_kink_factor: float | None = None, leak_fraction: float | None = None, timeout_s: float = 300.0
    ):
        super().__init__(partial_kink_factor, leak_fraction)
        self.operator = OperatorPromptValve(timeout_s=timeout_s)
        self.records = self.operator.records

    def kink(self, factor: float = math.inf) -> None:
        if math.isinf(factor):
            self.operator.prompt("CLAMP the cannula line shut with the pinch clamp (full kink).")
        else:
            self._check("partial-kink", factor, self.partial_kink_factor)
            self.operator.prompt("SWITCH the restrictor into the cannula line (partial kink).")

    def leak(self, fraction: float) -> None:
        self._check("leak", fraction, self.leak_fraction)
        self.operator.prompt("OPEN the leak tee at the connector to the lost-insulin vessel.")

    def dislodge(self) -> None:
        self.operator.prompt("TURN the diverter so all flow goes to the lost-insulin vessel (dislodged cannula).")

    def restore(self) -> None:
        self.operator.prompt("RESTORE the site: no clamp, restrictor out, leak tee closed, diverter to the site.")

    def disconnect(self) -> None:
        """Nothing to release: the terminal is the operator's."""
