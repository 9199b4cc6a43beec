"""The reference pump's side of its serial link (docs/protocol.md §1): requests split into lines, each answered OK
with the firmware's fields or a typed ERR, events numbered `E<n>`. The emulator's pump endpoint (server.py) and the
reference firmware run as a process of its own (firmware_process.py) both speak it, so the two are one link."""

from collections.abc import Callable, Sequence

from hil.emulator.pump import Refused
from hil.transport.frames import Frame, FrameError, decode, encode

MAX_LINE = 4096  # bytes without a terminator: a transmission error


class LineSplitter:
    """Bytes in as they come, whole lines (terminator kept) out to `on_line`; an over-long line is passed on as a
    transmission error (a NUL line), as a UART's framing error would be."""

    def __init__(self, terminator: bytes, on_line: Callable[[bytes], None]):
        self.terminator, self.on_line = terminator, on_line
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self.terminator in self._buffer:
            line, self._buffer = self._buffer.split(self.terminator, 1)
            self.on_line(line + self.terminator)
        if len(self._buffer) > MAX_LINE:
            self._buffer = b""
            self.on_line(b"\x00" + self.terminator)

    def clear(self) -> None:
        self._buffer = b""


def answer(line: bytes, handler: Callable[[Frame], Sequence[str] | None]) -> bytes:
    """The reply to a request line: OK with the handler's fields, its typed ERR, or BAD_FRAME for no frame; nothing
    (b"") for a request the handler accepts without an answer (None: the control channel's FENCE)."""
    try:
        frame = decode(line)
    except FrameError as exc:
        return encode("0", "ERR", "BAD_FRAME", exc.reason.replace(" ", "_"))
    try:
        fields = handler(frame)
        return b"" if fields is None else encode(frame.tag, "OK", *fields)
    except Refused as exc:
        return encode(frame.tag, "ERR", exc.code, *exc.message.split())


def event(number: int, kind: str, fields: dict) -> bytes:
    """The pump's event `E<number>`."""
    return encode(f"E{number}", "EVT", kind, *(f"{k}={v}" for k, v in fields.items()))
