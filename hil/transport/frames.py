"""The reference pump protocol's frame codec (docs/protocol.md), shared by the driver and the emulator.

A frame is one ASCII line: ``<body>*<CRC>\\r\\n``, where body is ``<tag> <word> [args...]`` and CRC is
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of the body bytes, four upper-case hex digits.
Pure functions: every input gives a Frame or a FrameError, never another exception.
"""

import binascii
from dataclasses import dataclass, field

MAX_FRAME = 512


class FrameError(ValueError):
    """A line that is not a valid frame: what is wrong, and the line itself (shortened)."""

    def __init__(self, reason: str, raw: bytes):
        self.reason = reason
        self.raw = raw
        super().__init__(f"{reason}: {raw[:80]!r}")


@dataclass(frozen=True)
class Frame:
    tag: str  # request sequence number, or "E<n>" for an unsolicited event
    word: str  # command verb, OK / ERR, or EVT
    args: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # the key=value args, for convenience

    @property
    def body(self) -> str:
        return " ".join((self.tag, self.word) + self.args)


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def encode(tag: str | int, word: str, *args: object) -> bytes:
    body = " ".join([str(tag), word, *(str(a) for a in args)]).encode("ascii")
    return body + b"*%04X\r\n" % crc16(body)


def decode(line: bytes) -> Frame:
    raw = line.rstrip(b"\r\n")
    if len(raw) > MAX_FRAME:
        raise FrameError("frame too long", raw)
    star = raw.rfind(b"*")
    if star < 0 or len(raw) - star != 5:
        raise FrameError("missing or malformed CRC", raw)
    body, crc_text = raw[:star], raw[star + 1 :]
    try:
        expected = int(crc_text.decode("ascii"), 16)
        text = body.decode("ascii")
    except (UnicodeDecodeError, ValueError):
        raise FrameError("non-ASCII or non-hex bytes", raw) from None
    if crc16(body) != expected:
        raise FrameError(f"CRC mismatch (got {crc_text.decode()}, computed {crc16(body):04X})", raw)
    parts = text.split(" ")
    if len(parts) < 2 or not all(parts) or not all(p.isprintable() for p in parts):
        raise FrameError("body must be '<tag> <word> [args]' with single spaces", raw)
    args = tuple(parts[2:])
    fields = dict(a.split("=", 1) for a in args if "=" in a)
    return Frame(parts[0], parts[1], args, fields)
