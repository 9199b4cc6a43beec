"""Reservoir changes: a reservoir of a stated fill fitted in the pump, and the pump's own reservoir change done
(delivery stopped, the pump told of its new reservoir), for the tests that run a reservoir to its end. Two
implementations behind one interface (fit, restore):

* EmulatorReservoir — the emulator's control channel (any fill);
* OperatorPromptReservoir — a person fills a reservoir to the amount asked, weighed, and fits it when asked; the
  dialogue is kept as evidence.
"""

from hil.drivers.occlusion_valve import OperatorPromptValve, PromptTimeout
from hil.drivers.registry import DeviceKind, DriverOptions, RigContext


class EmulatorReservoir:
    """The emulated pump's reservoir, on the emulator's control channel (registered as `emulator-reservoir`)."""

    device = DeviceKind.RESERVOIR

    class Options(DriverOptions):
        pass

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "EmulatorReservoir":
        return cls(rig.emulator())

    def __init__(self, control):
        self.control = control

    def fit(self, fill_U: float) -> None:
        self.control.reservoir("FIT", f"{fill_U:g}")

    def restore(self) -> None:
        self.control.reservoir("FULL")

    def disconnect(self) -> None:
        """The control channel is the rig's, which closes it."""


class OperatorPromptReservoir:
    """A person changes the reservoir when asked (registered as `operator-prompt-reservoir`)."""

    device = DeviceKind.RESERVOIR
    prompts_operator = True

    class Options(DriverOptions):
        timeout_s: PromptTimeout = 600.0

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "OperatorPromptReservoir":
        return cls(timeout_s=options.timeout_s)

    def __init__(self, *, timeout_s: float = 600.0):
        self.operator = OperatorPromptValve(timeout_s=timeout_s)
        self.records = self.operator.records

    def fit(self, fill_U: float) -> None:
        self.operator.prompt(
            f"FILL a new reservoir with {fill_U:g} U (weigh the fill at the rig's insulin concentration), FIT it and "
            "do the pump's reservoir change, leaving the infusion set connected and delivery stopped."
        )

    def restore(self) -> None:
        self.operator.prompt(
            "FIT a full reservoir and do the pump's reservoir change, leaving the infusion set connected and "
            "delivery stopped."
        )

    def disconnect(self) -> None:
        """Nothing to release: the terminal is the operator's."""
