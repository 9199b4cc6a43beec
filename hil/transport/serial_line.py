"""A line-oriented serial link on pyserial, with a deadline on every read and write.

Any pyserial port works: a device path (a USB adapter, a pty) or a URL (`socket://`, `rfc2217://` as lab serial
servers and labgrid export them, `spy://`, `loop://`). pyserial opens and configures the port, non-blocking.

A device path is read and written on its descriptor: one select() with the remaining deadline, then one
os.read() or os.write(). pyserial's own read and write add a select and a timeout object per call, and changing
its timeout is a tcsetattr, which together tripled the cost of a request on a pty
(benchmarks/bench_simulation.py). A URL port goes through pyserial's read and write (so `spy://` sees the
traffic and `rfc2217://` its telnet escapes), waiting on its descriptor where it has one (`socket://`), on the
queue pyserial's reader thread fills for `rfc2217://` (which has no descriptor), and polling in short steps for
`loop://`: re-arming pyserial's read timeout per call is no option, as rfc2217 renegotiates the port settings with
the server on every change.
"""

import io
import logging
import os
import queue
import select
import time
from collections.abc import Callable
from typing import Protocol, TextIO

import serial
import serial.rfc2217

from hil.errors import TransportError

log = logging.getLogger(__name__)
POLL_S = 0.005  # a URL port with neither a descriptor nor a reader queue (loop://) is polled this often


class Watcher(Protocol):
    """Told of what every SerialLine on a watched port does (the lockstep's fences: hil.drivers.emulator_control)."""

    def opened_line(self, port: str, line: "SerialLine") -> None:
        """`line` was opened on `port`."""

    def writing(self, port: str, count: int) -> None:
        """Before `count` bytes are written."""

    def reading(self) -> None:
        """Before a line reads, or looks for what has arrived."""


_watchers: dict[str, Watcher] = {}


def watch(port: str, watcher: Watcher | None) -> None:
    """Tell `watcher` of every SerialLine opened on `port` from now on, of each byte it writes and of each read; None
    stops. A port is a device path or URL exactly as a driver opens it."""
    if watcher is None:
        _watchers.pop(port, None)
    else:
        _watchers[port] = watcher


class SerialLine:
    """One serial port (device path or pyserial URL) read and written in whole lines: ended by LF, or by the
    `terminator` of a binary framing (HDLC's 0x7E flag, say), whose lines the wire log shows in hex."""

    def __init__(
        self, port: str, *, baudrate: int = 9600, timeout_s: float = 2.0, name: str = "", terminator: bytes = b"\n"
    ):
        self.port = port
        self.name = name or port
        self.terminator = terminator
        self.timeout_s = timeout_s
        try:
            self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0, do_not_open=True)
            self._direct = type(self._serial) is serial.Serial  # a device path: its descriptor, not pyserial's I/O
            # A URL port writes through pyserial with the link's deadline (loop:// refuses any write with 0);
            # rfc2217:// takes none (NotImplementedError): its socket's own 5-s timeout bounds a write instead.
            if not isinstance(self._serial, serial.rfc2217.Serial):
                self._serial.write_timeout = 0 if self._direct else timeout_s
            self._serial.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name}: cannot open {port}: {exc}{_what_to_try(port, exc)}") from None
        self._fd = _descriptor(self._serial)
        self._buffer = b""
        self.corked = False  # written lines kept in `_unsent` until flush_unsent(), not written (a lockstep window)
        self._unsent = b""
        self._watcher = _watchers.get(port)
        if self._watcher is not None:
            self._watcher.opened_line(port, self)
        self._log: TextIO | None = None
        self._log_now: Callable[[], float] = time.monotonic  # set with the log

    def log_to(self, path, now=None) -> None:
        """Log every line sent and received, readable, stamped with `now()` (None stops logging)."""
        if self._log:
            self._log.close()
            self._log = None
        if path is not None:
            self._log = open(path, "a", encoding="utf-8")
            self._log_now = now or time.monotonic

    def _trace(self, direction: str, data: bytes) -> None:
        if self._log:
            shown = repr(data.decode("ascii", "backslashreplace")) if self.terminator == b"\n" else data.hex(" ")
            self._log.write(f"{self._log_now():14.3f} {self.name} {direction} {shown}\n")

    def write_line(self, data: bytes) -> None:
        self._trace(">", data)
        if self._watcher is not None:
            self._watcher.writing(self.port, len(data))
        if self.corked:
            self._unsent += data
        else:
            self._write(data)

    def flush_unsent(self) -> None:
        """Write the lines a cork kept back, in one write."""
        if self._unsent:
            data, self._unsent = self._unsent, b""
            self._write(data)

    def _write(self, data: bytes) -> None:
        deadline = time.monotonic() + self.timeout_s
        try:
            if not self._direct:  # pyserial applies the deadline (write_timeout) itself
                self._serial.write(data)
                return
            assert self._fd is not None  # a device path has its descriptor
            while data:
                try:
                    written = os.write(self._fd, data)
                except BlockingIOError:  # the output buffer is full: wait for room below
                    written = 0
                data = data[written:]
                if data:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TransportError(
                            f"{self.name} ({self.port}): write not accepted within {self.timeout_s:g} s"
                        )
                    select.select([], [self._fd], [], min(remaining, 0.01))
        except serial.SerialTimeoutException:
            raise TransportError(f"{self.name} ({self.port}): write not accepted within {self.timeout_s:g} s") from None
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name} ({self.port}): write failed: {exc}") from None

    def read_line(self, timeout_s: float | None = None) -> bytes:
        """The next whole line including its terminator; TransportError when the deadline passes."""
        if self._watcher is not None:
            self._watcher.reading()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while self.terminator not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(
                    f"{self.name} ({self.port}): no answer within {timeout:g} s"
                    + (f" (partial line {self._buffer[:60]!r})" if self._buffer else "")
                )
            self._fill(remaining)
        line, _, self._buffer = self._buffer.partition(self.terminator)
        self._trace("<", line + self.terminator)
        return line + self.terminator

    def pending_lines(self) -> list[bytes]:
        """Whole lines already received, without waiting."""
        if self._watcher is not None:
            self._watcher.reading()
        self._fill(0)
        *lines, self._buffer = self._buffer.split(self.terminator)
        for line in lines:
            self._trace("<", line + self.terminator)
        return [line + self.terminator for line in lines]

    def _fill(self, wait_s: float) -> None:
        try:
            if not self._direct:
                self._fill_through_pyserial(wait_s)
                return
            assert self._fd is not None  # a device path has its descriptor
            if select.select([self._fd], [], [], wait_s)[0]:
                data = os.read(self._fd, 65536)
                if not data:
                    raise OSError("end of file: the other side closed the port")
                self._buffer += data
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name} ({self.port}): link lost: {exc}") from None

    def _fill_through_pyserial(self, wait_s: float) -> None:
        """Read what a URL port has, waiting up to wait_s for the first byte: on its descriptor, on the queue an
        rfc2217:// port's reader thread fills, or by polling (POLL_S) when it has neither."""
        data = self._serial.read(max(1, self._serial.in_waiting))
        if data or wait_s <= 0:
            self._buffer += data
            return
        if self._fd is not None:
            select.select([self._fd], [], [], wait_s)
        elif isinstance(self._serial, serial.rfc2217.Serial):
            self._buffer += _wait_on_reader(self._serial, wait_s)
        else:
            time.sleep(min(wait_s, POLL_S))
        self._buffer += self._serial.read(max(1, self._serial.in_waiting))

    def close(self) -> None:
        self.log_to(None)
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            log.warning("%s: error while closing %s", self.name, self.port)


def _wait_on_reader(port: serial.rfc2217.Serial, wait_s: float) -> bytes:
    """The first byte an rfc2217:// port receives within wait_s (b"" if none), taken from the queue its reader
    thread fills (pyserial's `_read_buffer`, of the pinned pyserial-labgrid 3.5): a lab's serial server answers
    within a millisecond, which polling every POLL_S would stretch to 5 (benchmarks/bench_lab.py)."""
    reader = getattr(port, "_thread", None)
    if reader is None or not reader.is_alive():  # it has put its end mark and gone: nothing more will come
        raise OSError("the serial server closed the connection")
    try:
        byte = port._read_buffer.get(True, wait_s)  # type: ignore[attr-defined]  # pyserial's, unstubbed
    except queue.Empty:
        return b""
    if byte is None:  # the reader thread's mark: the connection is gone
        raise OSError("the serial server closed the connection")
    return byte


def _descriptor(port: serial.SerialBase) -> int | None:
    """The port's file descriptor to wait on, or None (rfc2217:// and loop:// have none: fileno() raises)."""
    try:
        return port.fileno()
    except (io.UnsupportedOperation, AttributeError, OSError):
        return None


def _what_to_try(port: str, exc: BaseException) -> str:
    """The usual cause of a port that does not open, and what to try, for the bench engineer's console."""
    errno = getattr(exc, "errno", None) or getattr(exc.__context__, "errno", None)
    text = str(exc)
    if errno == 2 or "No such file or directory" in text:
        return " (no such device: is it plugged in and powered? `ls -l /dev/serial/by-id/` names the serial devices)"
    if errno == 13 or "Permission denied" in text:
        return f" (not allowed: the user needs the port's group, usually dialout: `ls -l {port}`)"
    if errno == 16 or "busy" in text.lower():
        return " (busy: another program holds it: another hil, a terminal, ModemManager; `fuser` names it)"
    if errno == 111 or "refused" in text.lower():
        return " (nothing listens there: is the serial server or labgrid exporter running, the host and port right?)"
    return ""
