"""The emulator's control channel: simulated-time advance, reset per test, wire faults, ground-truth inspection."""

from collections.abc import Callable

from hil.emulation.wire_faults import WireFaultKind
from hil.errors import InstrumentRefused, ProtocolError
from hil.transport import serial_line
from hil.transport.framed import FramedLink
from hil.transport.serial_line import SerialLine


class EmulatorControl:
    """`pump_events`: the number of the last event the emulated pump has sent on its serial link, as the last ADV or
    NOW said (the lockstep clock waits for it to arrive: hil.rig.rig.Rig).

    It counts the bytes the harness writes on the emulator's serial endpoints (`watch`, before the drivers open
    them). While they are held (`hold`), the emulator handles those bytes only as the control channel announces
    them, and each write is announced before it is made: with a step put off until then (`put_off_advance`, one line
    for both: the emulator takes the step, then the bytes), else by a FENCE. So steps need not be waited for: what
    the drivers write after a step is handled after it, whatever order the ptys deliver it in (docs/protocol.md §3,
    "Pipelined steps"). `on_read` runs before any read on a watched link: the lockstep clock reads the steps'
    answers there (`settle`)."""

    def __init__(self, port: str, *, timeout_s: float = 10.0):
        self.pump_events = 0
        self.on_read: Callable[[], None] = lambda: None
        self._endpoints: dict[str, str] = {}  # watched port → the emulator's name for it
        self._written: dict[str, int] = {}  # watched endpoint → bytes the harness has written on it
        self.opened: set[str] = set()  # the watched endpoints a SerialLine was opened on
        self._lines: list[SerialLine] = []  # those SerialLines: corked while held, so that a window of requests
        # goes out in one write per line, flushed before anything is read
        self._held = False
        self._put_off: tuple[float, str] | None = None  # a step asked for and not yet sent: (dt, the time it reaches)
        self._steps: list[tuple[str, str]] = []  # (tag, the time it reaches) of the steps sent, answers not read
        # The emulator stands in for the rig's instruments and fixtures: its refusals are the rig's, never the pump's.
        self.link = FramedLink(
            SerialLine(port, baudrate=115200, timeout_s=timeout_s, name="emulator control"),
            "emulator",
            refused=InstrumentRefused,
            quiet=frozenset({"ADV"}),
        )

    def watch(self, endpoints: dict[str, str]) -> None:
        """Count what the harness writes on these endpoints (name → port): before any driver opens them."""
        for name, port in endpoints.items():
            self._endpoints[port] = name
            self._written[name] = 0
            serial_line.watch(port, self)

    def opened_line(self, port: str, line: SerialLine) -> None:
        self.opened.add(self._endpoints[port])
        self._lines.append(line)

    def writing(self, port: str, count: int) -> None:
        """`count` bytes about to be written on a watched endpoint; announced first while held."""
        name = self._endpoints[port]
        self._written[name] += count
        if not self._held:
            return
        announced = f"{name}={self._written[name]}"
        if not self._send_put_off(announced):
            self.link.send("FENCE", announced, answered=False)

    def reading(self) -> None:
        if self._held:
            self._flush()
            self.on_read()

    def _flush(self) -> None:
        """Write what the corks kept back: the steps and announcements first, then the drivers' requests."""
        self.link.line.flush_unsent()
        for line in self._lines:
            line.flush_unsent()

    def hold(self) -> None:
        """Have the emulator hold what is written on every endpoint a SerialLine opened, until announced."""
        if self.opened:
            self.link.request("HOLD", *(f"{name}={self._written[name]}" for name in sorted(self.opened)))
        self._held = True
        for line in (self.link.line, *self._lines):
            line.corked = True

    def unhold(self) -> None:
        """Back to handling each byte as it comes (after `settle`: nothing announced is still on its way)."""
        self._flush()
        for line in (self.link.line, *self._lines):
            line.corked = False
        self._held = False
        if self.opened:
            self.link.request("UNHOLD", *sorted(self.opened))

    def put_off_advance(self, dt: float, reaches: str) -> None:
        """A step of dt seconds, to reach simulated time `reaches` (as the emulator writes it), sent with the next
        bytes written on a held endpoint or by `settle`, whichever comes first."""
        self._send_put_off()
        self._put_off = (dt, reaches)

    def send_advance(self, dt: float, reaches: str) -> None:
        """A step of dt seconds, to reach `reaches`, sent now (the harness works while the emulator steps); its
        answer read by `settle`."""
        self._send_put_off()
        self._send_step(dt, reaches)
        self._flush()  # with what was announced before it: the emulator must not wait on the harness's corks

    def _send_put_off(self, *announced: str) -> bool:
        """Send the step put off, taken before the bytes `announced`; whether there was one."""
        if self._put_off is None:
            return False
        (dt, reaches), self._put_off = self._put_off, None
        self._send_step(dt, reaches, *announced)
        return True

    def _send_step(self, dt: float, reaches: str, *announced: str) -> None:
        self._steps.append((self.link.send("ADV", f"{dt:.6f}", *announced), reaches))

    def settle(self) -> bool:
        """Send the step put off, and read the answers of the steps sent; whether there were any. A step that
        reached another time than the one it was sent for is a ProtocolError: the harness stamped what it read
        after it with that time."""
        self._send_put_off()
        self._flush()
        stepped = bool(self._steps)
        while self._steps:
            tag, reaches = self._steps.pop(0)
            frame = self.link.answer(tag)
            self._stepped(frame)
            if frame.fields["t"] != reaches:
                raise ProtocolError(
                    f"emulator: a step reached t={frame.fields['t']}, not the {reaches} it was sent for"
                )
        return stepped

    def _request(self, command: str, *args: object, idempotent: bool = False):
        """A request, after the step put off and what the drivers wrote."""
        self._send_put_off()
        self._flush()
        corked, self.link.line.corked = self.link.line.corked, False  # it is waited for: it goes out now
        try:
            return self.link.request(command, *args, idempotent=idempotent)
        finally:
            self.link.line.corked = corked

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
        return self._stepped(self._request("NOW", idempotent=True))

    def reset(self, seed: int) -> float:
        return self._t(self._request("RESET", seed))

    def valve(self, open_: bool) -> float:
        """Open or close the emulated occlusion valve between the line and the vessel."""
        return self._t(self._request("VALVE", "OPEN" if open_ else "CLOSE"))

    def site(self, *args: str) -> float:
        """Change the emulated infusion site: NORMAL, KINK <factor>|FULL, LEAK <fraction>, DISLODGE."""
        return self._t(self._request("SITE", *args))

    def reservoir(self, *args: str) -> float:
        """Change the emulated pump's reservoir: FIT <U>, or FULL (the rig's fill)."""
        return self._t(self._request("RESERVOIR", *args))

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
        return self._t(self._request("FAULT", endpoint, WireFaultKind(kind).value, *args))

    def clear_wire_faults(self, endpoint: str | None = None) -> int:
        """Disarm the wire faults (of one endpoint, or all); returns how many were armed."""
        return int(self._request("FAULT", "CLEAR", *([endpoint] if endpoint else [])).fields["cleared"])

    def inspect(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._request("INSPECT", idempotent=True).fields.items()}

    def close(self) -> None:
        for port in self._endpoints:
            serial_line.watch(port, None)
        self.link.close()
