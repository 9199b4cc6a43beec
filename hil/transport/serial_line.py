"""A line-oriented serial link on pyserial, with a deadline on every read and write."""

import logging
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
            self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout_s, write_timeout=timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name}: cannot open {port}: {exc}") from None
        self._buffer = b""

    def write_line(self, data: bytes) -> None:
        try:
            self._serial.write(data)
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
        return line + b"\n"

    def pending_lines(self) -> list[bytes]:
        """Whole lines already received, without waiting."""
        self._fill(0)
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line + b"\n" for line in lines]

    def _fill(self, wait_s: float) -> None:
        try:
            self._serial.timeout = wait_s
            first = self._serial.read(1)
            if first:
                self._buffer += first + self._serial.read(self._serial.in_waiting)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name} ({self.port}): link lost: {exc}") from None

    def close(self) -> None:
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            log.warning("%s: error while closing %s", self.name, self.port)
