"""The emulator process: the World behind its ptys (pump, balance, lost-vessel balance, control, CAN), one
thread, one selector.

Nothing listens on a network address. The process ends when its standard input closes (the harness that
started it is gone) or on SIGTERM/SIGINT, so an emulator never outlives its rig.
"""

import errno
import json
import math
import os
import select
import selectors
import signal
import sys
import time
import tty
from collections.abc import Callable

from pydantic import ValidationError

from hil.emulation.options import EmulatorConfig, ValveFault
from hil.emulation.wire_faults import WireFault
from hil.emulator import reference_serial
from hil.emulator.can_endpoint import CanEndpoint
from hil.emulator.firmware_link import FirmwareFailed
from hil.emulator.line_faults import LineFaults
from hil.emulator.pump import UL_PER_U, Refused
from hil.emulator.reference_serial import LineSplitter
from hil.emulator.session_lock import SessionLock
from hil.emulator.world import World

MAX_PENDING_OUTPUT = 1 << 20
# Output is written to the pty at the end of each turn of the loop, one write for all a turn's lines (a turn of
# pipelined steps answers dozens), or as soon as this much is pending, so a long stream fills the pty as it goes.
FLUSH_AT = 4096
FREE_RUN_TICK_S = 0.005  # running free: wall seconds between advances of the world to the wall clock's time
# A fence's bytes were written before the fence, so on a pty they are here within milliseconds; a harness that fenced
# more than it wrote gets ERR after this long instead of a hang.
FENCED_BYTES_WAIT_S = 5.0


class PtyChannel:
    """One pty master: lines in, bytes out (buffered, never blocking the simulation), each line sent through the
    endpoint's wire faults at the simulated time `now()`.

    A held channel (`hold`) passes on what the harness writes only as far as the control channel's fences have
    released it (`release`), so that in lockstep it is handled in the order the harness wrote it relative to the
    control channel's steps, whatever order the two ptys deliver it in (docs/protocol.md §3, "Fences")."""

    def __init__(
        self,
        name: str,
        on_line: Callable[[bytes], None],
        terminator: bytes | None = b"\n",  # None: every read passed on as it came (the bytes are framed by others)
        now: Callable[[], float] = lambda: 0.0,
    ):
        self.name = name
        self.now = now
        self.faults = LineFaults()
        self._held_until = 0.0  # time.monotonic() before which a stall holds the output back
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave_fd = slave  # kept open so the master never sees EOF between harness connections
        self.path = os.ttyname(slave)
        os.set_blocking(self.master, False)
        self.on_line = on_line
        self._lines = LineSplitter(terminator, on_line) if terminator is not None else None
        self.outbuf = bytearray()
        self._later: list[tuple[float, bytes]] = []  # (time.monotonic() due, line): output sent after the rest
        self.watched_for_room = False  # registered for EVENT_WRITE in the server's selector
        self.received = 0  # bytes read from the harness since the emulator started
        self._released: int | None = None  # held: bytes from this one on wait for a fence (None: passed on at once)
        self._held = bytearray()  # the last bytes received, not yet released

    def write(self, data: bytes, at: float | None = None) -> None:
        """Send `data` as written at simulated time `at` (default: now)."""
        pieces, hold_s = self.faults.apply(data, self.now() if at is None else at)
        if hold_s:
            self.flush()  # what was sent before the stall goes out before it, as it would have on its own
            self._held_until = max(self._held_until, time.monotonic() + hold_s)
        for piece in pieces:
            if len(self.outbuf) + len(piece) > MAX_PENDING_OUTPUT:
                del self.outbuf[: len(piece)]  # a UART overrun: the oldest output is lost, as on hardware
            self.outbuf += piece
        if len(self.outbuf) >= FLUSH_AT:
            self.flush()

    def held_s(self) -> float:
        """Wall seconds a stall still holds the output back."""
        return max(0.0, self._held_until - time.monotonic())

    def write_later(self, data: bytes, delay_s: float) -> None:
        """Send `data` `delay_s` wall seconds from now (through the wire faults then); output written meanwhile goes
        out first."""
        self._later.append((time.monotonic() + delay_s, data))

    def later_s(self) -> float | None:
        """Wall seconds until the next line written for later is due; None when there is none."""
        return max(0.0, min(due for due, _ in self._later) - time.monotonic()) if self._later else None

    def send_due(self) -> None:
        """Write the lines written for later whose time has come, in the order they were given."""
        if not self._later:
            return
        now = time.monotonic()
        due, self._later = [d for t, d in self._later if t <= now], [(t, d) for t, d in self._later if t > now]
        for data in due:
            self.write(data)

    def wants_write(self) -> bool:
        return bool(self.outbuf) and not self.held_s()

    def flush(self) -> None:
        if not self.outbuf or self.held_s():
            return
        while self.outbuf:
            try:
                sent = os.write(self.master, self.outbuf)
            except BlockingIOError:
                return
            del self.outbuf[:sent]

    def readable(self) -> None:
        data = self._read()
        if self._released is None:
            self._pass_on(data)
        else:
            self._held += data
            self._pass_released()

    def _read(self) -> bytes:
        try:
            data = os.read(self.master, 65536)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EIO):
                return b""
            raise
        self.received += len(data)
        return data

    def _pass_on(self, data: bytes) -> None:
        if self._lines is None:
            self.on_line(data)
        else:
            self._lines.feed(data)

    def _pass_released(self) -> None:
        assert self._released is not None  # called on a held channel
        free = self._released - (self.received - len(self._held))
        if free > 0:
            data = bytes(self._held[:free])
            del self._held[:free]
            self._pass_on(data)

    @property
    def held(self) -> bool:
        """What the harness writes waits for the control channel's announcements (hold)."""
        return self._released is not None

    def hold(self, written: int) -> None:
        """From the harness's `written`-th byte on, hold what it writes until a fence releases it."""
        if self._released is not None:
            raise ValueError(f"{self.name} is held already")
        if self.received > written:
            raise ValueError(f"{self.name}: {self.received} bytes received, more than the {written} written")
        self._released = written

    def unhold(self) -> None:
        """Pass on what the harness writes as it comes again; refused while bytes are held that no fence released
        (what has reached the pty read first, so that bytes written before the UNHOLD are seen however the two
        ptys' deliveries interleave; bytes still in the kernel's pty buffer can slip past)."""
        if self._released is None:
            raise ValueError(f"{self.name} is not held")
        self.readable()
        if self._held:
            raise ValueError(f"{self.name}: {len(self._held)} bytes held that were never announced")
        self._released = None

    def release(self, written: int) -> None:
        """The harness had written `written` bytes when it sent the fence: handle them all now, waiting for those
        still on their way."""
        if self._released is None:
            raise ValueError(f"{self.name} is not held")
        if written < self._released:
            raise ValueError(f"{self.name}: fence at byte {written}, before the last one at {self._released}")
        self._released = written
        deadline = time.monotonic() + FENCED_BYTES_WAIT_S
        while self.received < written:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ValueError(
                    f"{self.name}: {self.received} bytes received within {FENCED_BYTES_WAIT_S:g} s of the fence at "
                    f"byte {written}"
                )
            if select.select([self.master], [], [], remaining)[0]:
                self._held += self._read()
        self._pass_released()


class EmulatorServer:
    """The reference emulator's endpoints. A pump maker's emulated pump that speaks its own protocol subclasses it:
    its pump endpoint's frame terminator (PUMP_TERMINATOR), the handling of a frame (`_pump_line`) and of an event
    (`_pump_event`), the same World behind them (examples/binary-pump-plugin)."""

    PUMP_TERMINATOR = b"\n"

    def __init__(self, config: EmulatorConfig):
        # A firmware process frames its own bytes: its pump endpoint passes them on as they come.
        terminator = None if config.firmware else self.PUMP_TERMINATOR
        self.pump_ch = PtyChannel("pump", self._pump_line, terminator=terminator, now=self._now)
        self.balance_ch = PtyChannel("balance", self._balance_line, now=self._now)
        self.lost_balance_ch = PtyChannel("balance-lost", self._lost_balance_line, now=self._now)
        self.control_ch = PtyChannel("control", self._control_line)
        self.can_ch = PtyChannel("can", lambda line: self.can.handle_line(line), terminator=b"\r", now=self._now)
        self.faulted = {ch.name: ch for ch in (self.pump_ch, self.balance_ch, self.lost_balance_ch, self.can_ch)}
        self.can = CanEndpoint(
            config.can_dbc,
            lambda: self.world,
            self.can_ch.write,
            write_later=self.can_ch.write_later,
            events_behind_status_s=config.can_events_behind_status_s,
        )
        if config.can_dbc:
            self.can.db  # noqa: B018 - a rig's own database is loaded now: a bad one stops the start, not a test
        self._event_no = 0
        try:
            self.world = World(
                config,
                self._pump_event,
                lambda line: self.balance_ch.write(line.encode() + b"\r\n"),
                lambda data, t: self.pump_ch.write(data, at=t),
            )
        except FirmwareFailed as exc:
            raise SystemExit(str(exc)) from None
        if self.world.pump:  # the reference pump's heartbeat on the bus; a firmware process has no CAN node here
            self.world.every(config.can_heartbeat_s, self._heartbeat)
        # The vendor variant's service session, on the serial link only (the CAN endpoint has none).
        self.session_lock = SessionLock(config.pump.session_key, config.seed) if config.pump.session_key else None
        # Running free (clock: rehearsal): simulated time follows the wall clock, `speed` times faster, from now.
        self.speed = config.speed if config.free_run else None
        self._said_failed = False  # a failed firmware's line said on stderr
        self._wall0, self._sim0 = time.monotonic(), self.world.scheduler.now

    def _pump_events(self) -> int:
        """The number of the pump's last event on its serial link: the reference pump's, or what a firmware process
        counted in its last DONE."""
        return self.world.firmware.events if self.world.firmware else self._event_no

    def _heartbeat(self) -> None:
        assert self.world.pump is not None  # registered only for the reference pump
        self.can.heartbeat(self.world.pump.state, self.world.scheduler.now)

    def _follow_wall_clock(self) -> None:
        """Running free: advance the world to the simulated time the wall clock has reached."""
        assert self.speed is not None  # called only running free
        target = self._sim0 + (time.monotonic() - self._wall0) * self.speed
        if target > self.world.scheduler.now:
            try:
                self.world.advance(target - self.world.scheduler.now)
            except FirmwareFailed as exc:  # a dead pump: the plant runs on without it
                self._say_failed(exc)
                self.world.run_to(target)

    def _say_failed(self, exc: FirmwareFailed) -> None:
        """A firmware's failure on the emulator's stderr, once (in lockstep, ADV and RESET also refuse with it)."""
        if not self._said_failed:
            print(f"emulator: {exc}", file=sys.stderr, flush=True)
            self._said_failed = True

    def _now(self) -> float:
        return self.world.scheduler.now  # the World's scheduler is replaced on every RESET

    def endpoints(self) -> dict:
        return {
            "pump": self.pump_ch.path,
            "balance": self.balance_ch.path,
            "balance-lost": self.lost_balance_ch.path,
            "control": self.control_ch.path,
            "can": self.can_ch.path,
            "pid": os.getpid(),
        }

    def _pump_event(self, kind: str, fields: dict) -> None:
        self._event_no += 1
        self.pump_ch.write(reference_serial.event(self._event_no, kind, fields))
        self.can.event(kind, fields)

    def _framed(self, channel: PtyChannel, line: bytes, handler: Callable) -> None:
        """Decode a request, answer OK with the handler's fields or a typed ERR."""
        channel.write(reference_serial.answer(line, handler))

    def _pump_line(self, line: bytes) -> None:
        pump, lock = self.world.pump, self.session_lock
        if pump is None:
            self._to_firmware(line)
        elif lock is None:
            self._framed(self.pump_ch, line, lambda frame: pump.handle(frame))
        else:
            self._framed(self.pump_ch, line, lambda frame: lock.handle(frame, pump.handle))

    def _to_firmware(self, data: bytes) -> None:
        """Bytes from the harness to a firmware process, now; a firmware that has failed hears nothing (the line
        to a dead pump), and said why when it failed."""
        assert self.world.firmware is not None  # no reference pump: a firmware process
        if self.world.firmware.failed:
            return
        try:
            self.world.firmware.receive(data)
        except FirmwareFailed as exc:
            self._say_failed(exc)

    def _control_line(self, line: bytes) -> None:
        if answer := reference_serial.answer(line, self._control):
            self.control_ch.write(answer)

    def _balance_line(self, line: bytes) -> None:
        for reply in self.world.balance.handle(line.rstrip(b"\r\n")):
            self.balance_ch.write(reply.encode("ascii") + b"\r\n")

    def _take_pending_input(self) -> None:
        """Lockstep: what the harness wrote to the other links before it asked for time to pass (a CAN frame
        nobody answers, say) is handled now, at the simulated time it was sent, not after the advance."""
        others = [ch for ch in (self.pump_ch, self.balance_ch, self.lost_balance_ch, self.can_ch) if not ch.held]
        ready, _, _ = select.select([ch.master for ch in others], [], [], 0)
        for channel in others:
            if channel.master in ready:
                channel.readable()

    def _byte_counts(self, args) -> dict[PtyChannel, int]:
        """`<endpoint>=<bytes>` arguments: how many bytes the harness had written on each endpoint."""
        counts = {}
        for arg in args:
            name, sep, value = arg.partition("=")
            if not sep or name not in self.faulted or not value.isdigit():
                raise ValueError(f"{arg} is not <endpoint>=<bytes> (endpoints: {', '.join(self.faulted)})")
            counts[self.faulted[name]] = int(value)
        if not counts:
            raise ValueError("no <endpoint>=<bytes>")
        return counts

    def _release(self, args) -> None:
        """What the harness announced it wrote on held endpoints (FENCE's counts, or ADV's after its step), handled
        now: bytes of an endpoint up to its count."""
        if args:
            for channel, written in self._byte_counts(args).items():
                channel.release(written)

    def _lost_balance_line(self, line: bytes) -> None:
        for reply in self.world.lost_balance.handle(line.rstrip(b"\r\n")):
            self.lost_balance_ch.write(reply.encode("ascii") + b"\r\n")

    def _site(self, args) -> list[str]:
        """SITE NORMAL | KINK <factor>|FULL | LEAK <fraction 0-1> | DISLODGE."""
        bench = self.world.bench
        match args:
            case ["NORMAL"]:
                bench.set_site()
            case ["KINK", "FULL"]:
                bench.set_site(kink_factor=math.inf)
            case ["KINK", factor] if 1.0 <= float(factor) <= 1e9:
                bench.set_site(kink_factor=float(factor))
            case ["LEAK", fraction] if 0.0 <= float(fraction) <= 1.0:
                bench.set_site(leak_fraction=float(fraction))
            case ["DISLODGE"]:
                bench.set_site(leak_fraction=1.0)
            case _:
                raise ValueError("SITE takes NORMAL, KINK <factor 1-1e9>|FULL, LEAK <fraction 0-1> or DISLODGE")
        return [f"kink={bench.kink_factor:g}", f"leak={bench.leak_fraction:g}", f"t={self.world.scheduler.now:.6f}"]

    def _reservoir(self, args) -> list[str]:
        """RESERVOIR FIT <U 0-10000> | FULL: a new reservoir fitted in the pump (FULL: of the rig's pump.reservoir_U),
        its reservoir change done; a firmware process is told on its plant channel (FIT)."""
        match args:
            case ["FULL"]:
                fill = self.world.config.pump.reservoir_U
            case ["FIT", amount] if 0.0 < float(amount) <= 10_000.0:
                fill = float(amount)
            case _:
                raise ValueError("RESERVOIR takes FIT <U 0-10000> or FULL")
        if self.world.firmware:
            try:
                self.world.firmware.fit(fill * UL_PER_U)
            except FirmwareFailed as exc:
                raise Refused("NOT_ALLOWED", str(exc)) from None
        else:
            assert self.world.pump is not None  # the reference firmware, when no process is named
            self.world.pump.fit_reservoir(fill)
        return [f"reservoir={fill:g}", f"t={self.world.scheduler.now:.6f}"]

    def _fault(self, args: list[str]) -> list[str]:
        """FAULT <endpoint> <kind> [count=N] [span=S] [seconds=S] [at=T] [byte=I] [bit=B] | FAULT CLEAR [<endpoint>];
        `at` is on the emulator's clock (default: now)."""
        now = self._now()
        if args[:1] == ["CLEAR"] and len(args) <= 2:
            names = args[1:] or list(self.faulted)
            if not set(names) <= set(self.faulted):
                raise ValueError(f"no endpoint {names[0]} (endpoints: {', '.join(self.faulted)})")
            return [f"cleared={sum(self.faulted[name].faults.clear() for name in names)}", f"t={now:.6f}"]
        if len(args) < 2:
            raise ValueError("FAULT takes <endpoint> <kind> [key=value ...] or CLEAR [<endpoint>]")
        keys = {
            "count": "count",
            "span": "span_s",
            "seconds": "seconds",
            "at": "at_s",
            "skip": "skip",
            "byte": "byte",
            "bit": "bit",
        }
        options = {}
        for arg in args[2:]:
            key, sep, value = arg.partition("=")
            if not sep or key not in keys:
                raise ValueError(f"FAULT option {arg} is not one of {'=, '.join(keys)}=")
            options[keys[key]] = int(value) if key in ("count", "skip", "byte", "bit") else float(value)
        try:
            fault = WireFault.model_validate({"endpoint": args[0], "kind": args[1], **options})
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ValueError(f"{'.'.join(map(str, error['loc'])) or 'FAULT'}: {error['msg']}") from None
        armed = self.faulted[fault.endpoint].faults.arm(fault, start=fault.at_s if "at_s" in options else now)
        return [f"armed={armed}", f"t={now:.6f}"]

    def _arm_rig_faults(self) -> None:
        """The rig file's wire faults, armed after every RESET, `at_s` counted from it."""
        for fault in self.world.config.wire_faults:
            self.faulted[fault.endpoint].faults.arm(fault, start=self._now() + fault.at_s)

    def _control(self, frame) -> list[str] | None:
        try:
            if frame.word == "ADV":
                if self.speed is not None:
                    raise Refused("NOT_ALLOWED", f"running free at {self.speed:g}x: time passes on its own")
                dt = float(frame.args[0])
                if not 0 <= dt <= 1e7:
                    raise ValueError(f"cannot advance by {dt}")
                self._take_pending_input()
                try:
                    self.world.advance(dt)
                except FirmwareFailed as exc:
                    raise Refused("NOT_ALLOWED", str(exc)) from None
                self._release(frame.args[1:])
                # the serial pump's last event number: over a network the pump's lines may arrive after this reply
                return [f"t={self.world.scheduler.now:.6f}", f"events={self._pump_events()}"]
            elif frame.word == "FENCE":
                self._release(frame.args or ["-"])
                return None
            elif frame.word == "HOLD":
                for channel, written in self._byte_counts(frame.args).items():
                    channel.hold(written)
            elif frame.word == "UNHOLD":
                names = list(frame.args)
                if not names or not set(names) <= set(self.faulted):
                    raise ValueError(f"UNHOLD takes endpoints among {', '.join(self.faulted)}")
                for name in names:
                    self.faulted[name].unhold()
            elif frame.word == "VALVE":
                if frame.args[0] not in ("OPEN", "CLOSE"):
                    raise ValueError("VALVE takes OPEN or CLOSE")
                stuck = self.world.config.valve.fault is ValveFault.STUCK_OPEN
                self.world.bench.valve_open = frame.args[0] == "OPEN" or stuck
                return [f"valve={frame.args[0]}", f"t={self.world.scheduler.now:.6f}"]
            elif frame.word == "SITE":
                return self._site(list(frame.args))
            elif frame.word == "RESERVOIR":
                return self._reservoir(list(frame.args))
            elif frame.word == "FAULT":
                return self._fault(list(frame.args))
            elif frame.word == "RESET":
                try:
                    self.world.reset(int(frame.args[0]))
                except FirmwareFailed as exc:
                    raise Refused("NOT_ALLOWED", str(exc)) from None
                for channel in self.faulted.values():
                    channel.faults.clear()
                self._arm_rig_faults()
            elif frame.word == "INSPECT":
                return [f"{k}={v:.9g}" for k, v in self.world.inspect().items()]
            elif frame.word == "NOW":
                return [f"t={self.world.scheduler.now:.6f}", f"events={self._pump_events()}"]
            else:
                raise Refused("UNKNOWN_COMMAND", frame.word)
        except (ValueError, IndexError) as exc:
            raise Refused("BAD_ARGUMENT", str(exc) or frame.word) from None
        return [f"t={self.world.scheduler.now:.6f}"]

    def serve(self, watch_fd: int | None = None) -> None:
        selector = selectors.DefaultSelector()
        channels = (self.pump_ch, self.balance_ch, self.lost_balance_ch, self.control_ch, self.can_ch)
        for channel in channels:
            selector.register(channel.master, selectors.EVENT_READ, channel)
        if watch_fd is not None:
            selector.register(watch_fd, selectors.EVENT_READ, None)
        while True:
            if self.speed is not None:
                self._follow_wall_clock()
            timeout = FREE_RUN_TICK_S if self.speed is not None else 1.0
            for channel in channels:  # the next stall's end or line due, if sooner
                if channel.outbuf and (held := channel.held_s()):
                    timeout = min(timeout, held)
                if (later := channel.later_s()) is not None:
                    timeout = min(timeout, later)
            for key, events in selector.select(timeout=timeout):
                if key.data is None:
                    if not os.read(key.fd, 4096):  # watch_fd, the one registered without data
                        return  # the harness that started us is gone
                    continue
                if events & selectors.EVENT_READ:
                    if self.speed is not None:  # a request is answered at the time it arrives
                        self._follow_wall_clock()
                    key.data.readable()
            for channel in channels:  # wait for room only where output is pending
                channel.send_due()
                if channel.outbuf:
                    channel.flush()
                wants_write = channel.wants_write()
                if wants_write != channel.watched_for_room:
                    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants_write else 0)
                    selector.modify(channel.master, events, channel)
                    channel.watched_for_room = wants_write


def main(config: EmulatorConfig, watch_stdin: bool, server_class: type[EmulatorServer] = EmulatorServer) -> None:
    def stop(*_):
        sys.exit(0)  # atexit then ends a firmware process, even one still starting

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = server_class(config)
    print(json.dumps(server.endpoints()), flush=True)
    server.serve(sys.stdin.fileno() if watch_stdin else None)
