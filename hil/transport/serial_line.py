"""A line-oriented serial link on pyserial, with a deadline on every read and write.

pyserial opens and configures the port, non-blocking (read and write timeouts 0). Waiting is one select()
on its descriptor with the remaining deadline, then one os.read() or os.write() on it: pyserial's
own read and write add a select and a timeout object per call, and changing its timeout is a
tcsetattr, which together tripled the cost of a request on a pty (benchmarks/bench_simulation.py).
Transports without a descriptor (some pyserial URLs) are polled through pyserial instead.
"""

import logging
import os
import select
import time

import serial

from hil.errors import TransportError

log = logging.getLogger(__name__)


class SerialLine:
    """One serial port (device path or pyserial URL) read and written in whole lines."""

    def __init__(self, port: str, *, baudrate: int = 9600, timeout_s: float = 2.0, name: str = ""):
        self.port = port
        self.name = name or port
        self.timeout_s = timeout_s
        try:
            self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name}: cannot open {port}: {exc}") from None
        self._fd = self._serial.fileno() if hasattr(self._serial, "fileno") else None
        self._buffer = b""
        self._log = None
        self._log_now = None

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
            self._log.write(f"{self._log_now():14.3f} {self.name} {direction} {data.decode('ascii', 'backslashreplace')!r}\n")

    def write_line(self, data: bytes) -> None:
        self._trace(">", data)
        deadline = time.monotonic() + self.timeout_s
        try:
            while data:
                try:
                    written = os.write(self._fd, data) if self._fd is not None else self._serial.write(data)
                except BlockingIOError:  # the output buffer is full: wait for room below
                    written = 0
                data = data[written or 0 :]
                if data:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TransportError(f"{self.name} ({self.port}): write not accepted within {self.timeout_s:g} s")
                    select.select([], [self._fd] if self._fd is not None else [], [], min(remaining, 0.01))
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name} ({self.port}): write failed: {exc}") from None

    def read_line(self, timeout_s: float | None = None) -> bytes:
        """The next whole line including its LF; TransportError when the deadline passes."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(
                    f"{self.name} ({self.port}): no answer within {timeout:g} s"
                    + (f" (partial line {self._buffer[:60]!r})" if self._buffer else "")
                )
            self._fill(remaining)
        line, _, self._buffer = self._buffer.partition(b"\n")
        self._trace("<", line + b"\n")
        return line + b"\n"

    def pending_lines(self) -> list[bytes]:
        """Whole lines already received, without waiting."""
        self._fill(0)
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._trace("<", line + b"\n")
        return [line + b"\n" for line in lines]

    def _fill(self, wait_s: float) -> None:
        try:
            if self._fd is None:  # URL transports without a descriptor: poll in short steps
                time.sleep(min(wait_s, 0.001))
                self._buffer += self._serial.read(max(1, self._serial.in_waiting))
                return
            if select.select([self._fd], [], [], wait_s)[0]:
                data = os.read(self._fd, 65536)
                if not data:
                    raise OSError("end of file: the other side closed the port")
                self._buffer += data
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name} ({self.port}): link lost: {exc}") from None

    def close(self) -> None:
        self.log_to(None)
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            log.warning("%s: error while closing %s", self.name, self.port)
