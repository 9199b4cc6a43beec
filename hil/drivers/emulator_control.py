"""The emulator's control channel: simulated-time advance, reset per test, wire faults, ground-truth inspection."""

from collections.abc import Callable

from hil.emulation.wire_faults import WireFaultKind
from hil.errors import InstrumentRefused
from hil.transport.framed import FramedLink
from hil.transport.serial_line import SerialLine


class EmulatorControl:
    """`pump_events`: the number of the last event the emulated pump has sent on its serial link, as the last ADV or
    NOW said (the lockstep clock waits for it to arrive: hil.rig.rig.Rig)."""

    def __init__(self, port: str, *, timeout_s: float = 10.0):
        self.pump_events = 0
        # The emulator stands in for the rig's instruments and fixtures: its refusals are the rig's, never the pump's.
        self.link = FramedLink(
            SerialLine(port, baudrate=115200, timeout_s=timeout_s, name="emulator control"),
            "emulator",
            refused=InstrumentRefused,
            quiet=frozenset({"ADV"}),
        )

    def _t(self, frame) -> float:
        return float(frame.fields["t"])

    def _stepped(self, frame) -> float:
        self.pump_events = int(frame.fields["events"])
        return self._t(frame)

    def advance(self, dt: float, meanwhile: Callable[[], None] | None = None) -> float:
        """Advance simulated time by dt seconds, doing `meanwhile` while the emulator steps; returns the new
        simulated time."""
        return self._stepped(self.link.request("ADV", f"{dt:.6f}", meanwhile=meanwhile))

    def now(self) -> float:
        return self._stepped(self.link.request("NOW", idempotent=True))

    def reset(self, seed: int) -> float:
        return self._t(self.link.request("RESET", seed))

    def valve(self, open_: bool) -> float:
        """Open or close the emulated occlusion valve between the line and the vessel."""
        return self._t(self.link.request("VALVE", "OPEN" if open_ else "CLOSE"))

    def site(self, *args: str) -> float:
        """Change the emulated infusion site: NORMAL, KINK <factor>|FULL, LEAK <fraction>, DISLODGE."""
        return self._t(self.link.request("SITE", *args))

    def wire_fault(
        self,
        endpoint: str,
        kind: WireFaultKind,
        *,
        count: int | None = None,
        span_s: float | None = None,
        seconds: float | None = None,
        at: float | None = None,
        skip: int | None = None,
        byte: int | None = None,
        bit: int | None = None,
    ) -> float:
        """Inject a wire fault into what `endpoint` (pump, balance, balance-lost, can) sends: from simulated time
        `at` (default now), after `skip` lines let through, on the next `count` lines (default 1) or every line for
        `span_s`; `seconds` of wall time for a stall; `byte` and `bit` for a corruption. Returns the simulated
        time."""
        options = {"count": count, "span": span_s, "seconds": seconds, "at": at, "skip": skip, "byte": byte, "bit": bit}
        args = [f"{key}={value}" for key, value in options.items() if value is not None]
        return self._t(self.link.request("FAULT", endpoint, WireFaultKind(kind).value, *args))

    def clear_wire_faults(self, endpoint: str | None = None) -> int:
        """Disarm the wire faults (of one endpoint, or all); returns how many were armed."""
        return int(self.link.request("FAULT", "CLEAR", *([endpoint] if endpoint else [])).fields["cleared"])

    def inspect(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.link.request("INSPECT", idempotent=True).fields.items()}

    def close(self) -> None:
        self.link.close()
