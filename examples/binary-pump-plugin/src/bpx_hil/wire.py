"""The BPX pump's wire protocol, shared by its driver (bpx_hil.driver) and its emulation (bpx_hil.sim).

A frame is `version (0x02) | type | sequence (u16) | payload | CRC-16/CCITT-FALSE (u16)`, all big-endian, the CRC
over everything before it, then HDLC-stuffed (0x7E → 7D 5E, 0x7D → 7D 5D) and ended by the flag 0x7E. A request's
reply carries its type | 0x80 and its sequence; a refusal is type 0x7F with the refusal's code and message. Events
are types 0x40-0x47 whose sequence is the pump's own event counter, from 0x8000, wrapping at 0xFFFF.

Enumerations travel as the pump's own codes (STATES, ALARM_KINDS, ...), numbers as IEEE floats or scaled integers
(milli-units), absent values as NaN.
"""

import math
import struct
from binascii import crc_hqx
from dataclasses import dataclass

VERSION = 0x02
FLAG, ESCAPE = b"\x7e", 0x7D
REFUSED = 0x7F
FIRST_EVENT = 0x8000

# Requests: type → name (the payload layouts are in the sim's and the driver's struct calls).
IDENT, STATUS, BASAL, TEMPBASAL, BOLUS, PRIME, CANCEL, SUSPEND, RESUME, STOP, ACK, HISTORY, CGM, AUTO, SETTINGS = range(
    0x01, 0x10
)
SET_BACKOFF, SET_SUSPEND, SET_AUTO = 1, 2, 3
AUTO_QUERY, AUTO_ON, AUTO_OFF = 0, 1, 2

# Events: type → the reference word the emulation emits it for.
EVENTS = {
    0x40: "ALARM",
    0x41: "SUSPEND",
    0x42: "RESUME",
    0x43: "BOLUS_DONE",
    0x44: "PRIME_DONE",
    0x45: "AUTO_BASAL",
    0x46: "AUTO_BOLUS",
    0x47: "AUTO_EXIT",
}
EVENT_TYPES = {word: code for code, word in EVENTS.items()}

# The pump's codes for the contract's vocabularies (index in the tuple = code).
STATES = ("RUNNING", "SUSPENDED", "AUTO_SUSPENDED", "ALARM")
BOLUS_KINDS = ("IDLE", "BOLUS", "PRIME")
ALARM_KINDS = (
    "RESERVOIR_EMPTY",
    "OCCLUSION",
    "LOW_GLUCOSE",
    "SUSPEND_MAX_DURATION",
    "CGM_LOST",
    "CHECK_SITE",
    "AUTO_CGM_LOST",
    "AUTO_EXIT",
    "RESERVOIR_LOW",
    "DELIVERY_FAULT",
)
PRIORITIES = ("LOW", "MEDIUM", "HIGH")
SUSPEND_REASONS = ("BEFORE_LOW", "ON_LOW")
RESUME_REASONS = ("GLUCOSE", "MAX_DURATION", "CGM_LOST", "USER")
ZONES = ("STOP", "REDUCE", "PROFILE", "INCREASE", "CGM_LOST")
EXIT_REASONS = ("USER", "SUSPEND", "ALARM", "CGM_LOST")
NONE = 0xFF  # an enumeration with no value (no zone outside auto mode)

# Payload layouts.
STATUS_HEAD = struct.Struct(">BBffffffdB")  # state, bolus, basal, bolus_left, reservoir, delivered, pressure, cgm, t, n
ALARM_EVENT = struct.Struct(">HBBdf")  # id, kind, priority, raised, pressure
REASON_EVENT = struct.Struct(">Bd")  # reason, t (SUSPEND, RESUME, AUTO_EXIT)
AMOUNT = struct.Struct(">f")  # BOLUS_DONE, PRIME_DONE; a bolus's or prime's duration; a cancel's units left
AUTO_BASAL_EVENT = struct.Struct(">fBffd")  # rate, zone, predicted, iob, t
AUTO_BOLUS_EVENT = struct.Struct(">fffd")  # amount, predicted, iob, t
AUTO_STATE = struct.Struct(">BfBf")  # on, basal, zone, iob
HISTORY_REPLY = struct.Struct(">If")  # strokes, units


class WireError(ValueError):
    """Bytes that are not a BPX frame."""


@dataclass(frozen=True)
class Message:
    kind: int
    seq: int
    payload: bytes = b""


def encode(message: Message) -> bytes:
    body = struct.pack(">BBH", VERSION, message.kind, message.seq) + message.payload
    raw = body + struct.pack(">H", crc_hqx(body, 0xFFFF))
    stuffed = raw.replace(b"\x7d", b"\x7d\x5d").replace(FLAG, b"\x7d\x5e")
    return stuffed + FLAG


def decode(frame: bytes) -> Message:
    """A frame with or without its flag; WireError for bad stuffing, a short frame, a wrong version or CRC."""
    data = frame.removesuffix(FLAG)
    raw = bytearray()
    escaped = False
    for byte in data:
        if escaped:
            if byte not in (0x5D, 0x5E):
                raise WireError(f"bad escape 7d {byte:02x}")
            raw.append(byte ^ 0x20)
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            raw.append(byte)
    if escaped or len(raw) < 6:
        raise WireError(f"frame of {len(raw)} bytes cut short")
    body, (crc,) = bytes(raw[:-2]), struct.unpack(">H", raw[-2:])
    if crc_hqx(body, 0xFFFF) != crc:
        raise WireError(f"CRC {crc:04x}, computed {crc_hqx(body, 0xFFFF):04x}")
    version, kind, seq = struct.unpack(">BBH", body[:4])
    if version != VERSION:
        raise WireError(f"protocol version {version}, not {VERSION}")
    return Message(kind, seq, body[4:])


def text(value: str) -> bytes:
    data = value.encode("ascii", "replace")[:255]
    return bytes([len(data)]) + data


def texts(payload: bytes) -> list[str]:
    out, i = [], 0
    while i < len(payload):
        n = payload[i]
        out.append(payload[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return out


def number(value: float | None) -> float:
    return math.nan if value is None else value


def optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def code(table: tuple[str, ...], word: str | None) -> int:
    return NONE if word in (None, "-") else table.index(word)
