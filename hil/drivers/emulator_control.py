"""The emulator's control channel: simulated-time advance, reset per test, ground-truth inspection."""

from hil.transport.framed import FramedLink
from hil.transport.serial_line import SerialLine


class EmulatorControl:
    def __init__(self, port: str, *, timeout_s: float = 10.0):
        self.link = FramedLink(SerialLine(port, baudrate=115200, timeout_s=timeout_s, name="emulator control"), "emulator")

    def _t(self, frame) -> float:
        return float(frame.fields["t"])

    def advance(self, dt: float) -> float:
        """Advance simulated time by dt seconds; returns the new simulated time."""
        return self._t(self.link.request("ADV", f"{dt:.6f}"))

    def now(self) -> float:
        return self._t(self.link.request("NOW", idempotent=True))

    def reset(self, seed: int) -> float:
        return self._t(self.link.request("RESET", seed))

    def valve(self, open_: bool) -> float:
        """Open or close the emulated occlusion valve between the line and the vessel."""
        return self._t(self.link.request("VALVE", "OPEN" if open_ else "CLOSE"))

    def site(self, *args: str) -> float:
        """Change the emulated infusion site: NORMAL, KINK <factor>|FULL, LEAK <fraction>, DISLODGE."""
        return self._t(self.link.request("SITE", *args))

    def inspect(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.link.request("INSPECT", idempotent=True).fields.items()}

    def close(self) -> None:
        self.link.close()
