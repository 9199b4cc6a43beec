"""The plant's end of the firmware channel (docs/plant-channel.md): a pump firmware of its own, run as a process and
moved through simulated time by the plant. Its motor and its pressure sensor act on the plant's fluid path, its
serial line is the plant's pump endpoint, its clock is the plant's. The plant owns time: the firmware runs only
inside an exchange the plant opens (RESET, RX, RUN), and every message it sends in one carries a time the plant
has not yet passed, so the balances weigh what its strokes moved when they moved it."""

import atexit
import math
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from hil.emulation.options import FirmwareProcess
from hil.emulator.plant_interface import Plant

PROTOCOL = 1
MAX_LINE = 1 << 16  # bytes: a TX of a 32 KiB burst, hex-encoded; longer is a runaway firmware
MAX_STROKE_UL = 1000.0  # one PUSH or RETRACT: 100 U of U-100 at once is no stroke of a pump


class FirmwareFailed(Exception):
    """The firmware process broke the channel's protocol, fell silent or exited; the message says which and how."""


class FirmwareLink:
    """One firmware process. `plant()` is the fluid path its motor acts on now (a RESET builds a new one);
    `run_to(t)` moves the plant to simulated time t (its balances' lines on the way); `transmit(data, t)` puts the
    firmware's serial output on the pump endpoint as sent at t."""

    def __init__(
        self,
        options: FirmwareProcess,
        plant: Callable[[], Plant],
        now: Callable[[], float],
        run_to: Callable[[float], None],
        transmit: Callable[[bytes, float], None],
    ):
        self.options = options
        self._plant, self._now, self._run_to, self._transmit = plant, now, run_to, transmit
        self.failed: str | None = None
        self.events = 0  # the number of the last event the firmware says it sent on its serial line (DONE's count)
        argv = [sys.executable, "-m", options.module, *options.args] if options.module else list(options.command)
        # what the messages call it: its program until it says its own name in HELLO
        self.name = options.module or " ".join(os.path.basename(arg) for arg in argv)[:80]
        self._stderr = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0
            )
        except OSError as exc:
            self._stderr.close()
            raise FirmwareFailed(f"firmware {self.name}: cannot start {argv[0]}: {exc.strerror}") from None
        assert self.process.stdin is not None  # piped
        os.set_blocking(self.process.stdin.fileno(), False)
        atexit.register(self.stop)
        self._in = b""
        self._deadline = 0.0  # time.monotonic() by which the exchange in progress must end
        self._exchange(f"HELLO {PROTOCOL}", None, hello=True)

    # -- the exchanges the plant opens --------------------------------------------------------------------------
    def reset(self, seed: int) -> None:
        """A fresh device (a new cartridge, a power cycle), seeded; its event count may start again."""
        self.events = 0
        self._exchange(f"RESET {seed} {self._now()!r}", self._now())

    def receive(self, data: bytes) -> None:
        """Bytes arrived on the pump's serial line now."""
        self._exchange(f"RX {self._now()!r} {data.hex()}", self._now())

    def fit(self, fill_uL: float) -> None:
        """A new reservoir holding `fill_uL` fitted now (the rig's reservoir fixture)."""
        self._exchange(f"FIT {fill_uL!r} {self._now()!r}", self._now())

    def run(self, target: float) -> None:
        """Let the firmware run to simulated time `target` (the plant follows each of its strokes)."""
        self._exchange(f"RUN {target!r}", target)

    def _exchange(self, request: str, until: float | None, hello: bool = False) -> None:
        if self.failed:
            raise FirmwareFailed(self.failed)
        self._deadline = time.monotonic() + self.options.exchange_timeout_s
        try:
            self._nothing_unasked()
            self._send(request)
            while not self._answer(self._read(), until, hello):
                pass
        except FirmwareFailed as exc:
            self.failed = str(exc)
            self.stop(grace_s=0.0)  # a broken or hung firmware gets no grace: the harness awaits the line
            raise

    def _answer(self, line: str, until: float | None, hello: bool) -> bool:
        """Act on one message of the firmware's; True when it ends the exchange."""
        word, *args = line.split(" ")
        if hello:
            if word != "HELLO" or args[:1] != [str(PROTOCOL)] or not "".join(args[1:]).strip():
                raise self._broke(f"answered HELLO with '{line[:80]}', not 'HELLO {PROTOCOL} <name>'")
            self.name = f"{' '.join(args[1:])[:60]} ({self.name})"
            return True
        assert until is not None  # every exchange but HELLO runs to a time
        match word, len(args):
            case "DONE", 1 | 2:
                if self._time(args[0], until) != until:
                    raise self._broke(f"ended at t={args[0]}, not at t={until!r}")
                if args[1:]:
                    self.events = self._count(args[1])
                self._run_to(until)
                return True
            case "TX", 2:
                t = self._time(args[0], until)
                self._run_to(t)
                try:
                    self._transmit(bytes.fromhex(args[1]), t)
                except ValueError:
                    raise self._broke(f"sent TX of '{args[1][:40]}', which is not hex") from None
            case "PUSH", 2:
                self._run_to(self._time(args[0], until))
                plant = self._plant()
                plant.push(self._volume(args[1]))
                self._send(f"PRESSURE {plant.pressure_kPa!r}")
            case "RETRACT", 2:
                self._run_to(self._time(args[0], until))
                plant = self._plant()
                back = plant.retract(self._volume(args[1]))
                self._send(f"RETRACTED {back!r} {plant.pressure_kPa!r}")
            case "PRESSURE", 1:
                self._run_to(self._time(args[0], until))
                self._send(f"PRESSURE {self._plant().pressure_kPa!r}")
            case _:
                raise self._broke(f"sent '{line[:80]}', which is no message of the plant channel")
        return False

    def _time(self, text: str, until: float) -> float:
        """A message's time: a number the plant has not passed yet, and not beyond the exchange's end."""
        try:
            t = float(text)
        except ValueError:
            raise self._broke(f"sent the time '{text[:40]}', which is no number") from None
        if not (math.isfinite(t) and self._now() <= t <= until):
            raise self._broke(f"sent a message at t={text[:40]}, outside the exchange [{self._now()!r}, {until!r}]")
        return t

    def _count(self, text: str) -> int:
        if not text.isdigit() or int(text) < self.events:
            raise self._broke(f"counted its events '{text[:40]}', not a whole number from {self.events} on")
        return int(text)

    def _volume(self, text: str) -> float:
        try:
            volume = float(text)
        except ValueError:
            raise self._broke(f"sent the volume '{text[:40]}', which is no number") from None
        if not (math.isfinite(volume) and 0.0 <= volume <= MAX_STROKE_UL):
            raise self._broke(f"sent a stroke of {text[:40]} µL, outside 0-{MAX_STROKE_UL:g} µL")
        return volume

    def _broke(self, what: str) -> FirmwareFailed:
        return FirmwareFailed(f"firmware {self.name} {what} (docs/plant-channel.md)")

    # -- the pipes ----------------------------------------------------------------------------------------------
    def _nothing_unasked(self) -> None:
        """A firmware writes only inside an exchange: a line waiting before one opens is a broken protocol."""
        assert self.process.stdout is not None  # piped
        if not self._in and select.select([self.process.stdout.fileno()], [], [], 0)[0]:
            self._in += os.read(self.process.stdout.fileno(), 65536)
            if not self._in:
                raise self._exited()
        if self._in:
            unasked = self._in.split(b"\n")[0][:80].decode(errors="replace")
            raise self._broke(f"wrote '{unasked}' outside an exchange")

    def _hung(self) -> FirmwareFailed:
        return self._broke(f"did not end the exchange within {self.options.exchange_timeout_s:g} s: hung")

    def _send(self, line: str) -> None:
        """Write a line, within the exchange's deadline (a firmware that reads nothing blocks no one)."""
        assert self.process.stdin is not None  # piped, non-blocking
        fd, data = self.process.stdin.fileno(), line.encode("ascii") + b"\n"
        while data:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise self._hung()
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self._exited() from None

    def _read(self) -> str:
        """The firmware's next line, within the exchange's deadline."""
        assert self.process.stdout is not None  # piped
        fd = self.process.stdout.fileno()
        while b"\n" not in self._in:
            if len(self._in) > MAX_LINE:
                raise self._broke(f"sent a line over {MAX_LINE} bytes")
            remaining = self._deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise self._hung()
            chunk = os.read(fd, 65536)
            if not chunk:
                raise self._exited()
            self._in += chunk
        line, self._in = self._in.split(b"\n", 1)
        try:
            return line.decode("ascii").rstrip("\r")
        except UnicodeDecodeError:
            raise self._broke(f"sent a line that is not ASCII: {line[:40]!r}") from None

    def _exited(self) -> FirmwareFailed:
        try:
            code = self.process.wait(timeout=max(0.1, self._deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return self._broke("closed its end of the channel")
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, size - 4096))  # its last words: the end of what it said
        said = self._stderr.read().decode(errors="replace").strip().splitlines()
        return self._broke(f"exited with code {code}: {said[-1] if said else 'no message'}")

    def stop(self, grace_s: float = 2.0) -> None:
        """End the process: its stdin closed (a firmware ends on that), killed if it has not ended `grace_s` later;
        its pipes and its kept standard error closed."""
        atexit.unregister(self.stop)
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        self._stderr.close()
