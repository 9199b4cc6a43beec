"""What the reference pump's firmware (hil/emulator/pump.py) may touch of the world it acts on: its motor moves
fluid into the line or draws it back, and its plunger's force sensor reads the line pressure. Nothing else of the
plant (the fluid path's physics, the vessels and balances, the valve, the site fixture) is the firmware's to see;
what a blocked outlet, a kinked cannula, a leak or a dislodged set does reaches it only through that pressure.
The firmware's clock is the plant's (hil/emulator/scheduler.py): one simulated time, advanced in lockstep by the
control channel."""

from typing import Protocol


class Plant(Protocol):
    def push(self, volume_uL: float) -> None:
        """What the motor's stroke moves into the line now (the stroke less what the drive train's slack took)."""
        ...

    def retract(self, volume_uL: float) -> float:
        """The plunger drawn back by volume_uL (an occlusion back-off); what came back out of the line (the rest
        of the stroke drew on nothing)."""
        ...

    @property
    def pressure_kPa(self) -> float:
        """The line pressure at the plunger now, as its force sensor reads it."""
        ...
