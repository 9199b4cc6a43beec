"""Mettler-Toledo MT-SICS balance driver (level 0/1: S, SI, SIR, Z, T, @, I2, I4).

Replies are parsed strictly; every reply gives a value or a typed error (InstrumentRefused with the MT-SICS
code, or ProtocolError for a reply the standard does not allow). MT-SICS replies carry no sequence number, so
the driver keeps request and reply aligned itself: lines pending before a command (a duplicated reply, the rest
of a stream) are discarded and logged, and each reply must start with the word its command answers with.
"""

import logging
import re
from collections import deque
from collections.abc import Callable

from hil.drivers.contracts import Reading, Refusal
from hil.drivers.registry import DeviceKind, RigContext, SerialOptions
from hil.errors import InstrumentRefused, LineFault, ProtocolError
from hil.transport.serial_line import SerialLine

log = logging.getLogger(__name__)

_UNIT_TO_MG = {"g": 1000.0, "mg": 1.0, "kg": 1e6}
_STATUS_ERRORS = {
    "I": (Refusal.BUSY, "command understood but not executable now (not stable, or busy)"),
    "+": (Refusal.OVERLOAD, "balance in overload range"),
    "-": (Refusal.UNDERLOAD, "balance in underload range"),
    "L": (Refusal.NOT_ALLOWED, "logical error: parameter not allowed"),
}
# Z and T answer + and - of their own ranges, not of the weighing range (MT-SICS reference manual, Z and T): a
# balance refuses to zero, or to tare, more than a part of its capacity, as with a vessel on the pan
_RANGE_ERRORS = {
    ("Z", "+"): "upper limit of the zero setting range exceeded",
    ("Z", "-"): "lower limit of the zero setting range exceeded",
    ("T", "+"): "upper limit of the taring range exceeded",
    ("T", "-"): "lower limit of the taring range exceeded",
}
_GLOBAL_ERRORS = {
    "ES": (Refusal.NOT_UNDERSTOOD, "syntax error: command not recognised"),
    "ET": (Refusal.TRANSMISSION, "transmission error: the balance received faulty bytes"),
    "EL": (Refusal.NOT_ALLOWED, "logical error: the command cannot be executed"),
}
_REPLY_WORD = {"S": "S", "SI": "S", "SIR": "S", "T": "T", "Z": "Z"}  # weight replies to SI and SIR start with S
_CAPACITY = re.compile(r"\s\d+(\.\d+)?\s*(g|mg|kg)$")  # I2 ends in the capacity and its unit


def parse_weight(reply: bytes, sent: str = "S") -> tuple[float, bool]:
    """(mass in mg, stable) from an ``S S|D <value> <unit>`` reply to the command `sent`, or a typed error."""
    text = _ascii(reply)
    _raise_global(text, sent)
    parts = text.split()
    if len(parts) < 2 or parts[0] != _REPLY_WORD.get(sent, sent):
        raise ProtocolError(f"balance: unexpected reply {text!r} to {sent}")
    status = parts[1]
    if (sent, status) in _RANGE_ERRORS and len(parts) == 2:
        message = _RANGE_ERRORS[sent, status]
        raise InstrumentRefused("balance", Refusal.OUT_OF_RANGE, f"{message} (reply {text!r} to {sent})")
    if status in _STATUS_ERRORS and len(parts) == 2:
        code, message = _STATUS_ERRORS[status]
        raise InstrumentRefused("balance", code, f"{message} (reply {text!r} to {sent})")
    if status not in ("S", "D") or len(parts) != 4 or parts[3] not in _UNIT_TO_MG:
        raise ProtocolError(f"balance: malformed weight reply {text!r} to {sent}")
    try:
        value = float(parts[2])
    except ValueError:
        raise ProtocolError(f"balance: weight {parts[2]!r} in the reply to {sent} is not a number") from None
    return value * _UNIT_TO_MG[parts[3]], status == "S"


def parse_identity(reply: bytes, command: str) -> str:
    text = _ascii(reply)
    _raise_global(text, command)
    head = f"{command} A "
    if not text.startswith(head) or not text.endswith('"') or text[len(head)] != '"':
        raise ProtocolError(f"balance: malformed reply {text!r} to {command}")
    return text[len(head) + 1 : -1]


def identity_warnings(model: str, serial: str) -> list[str]:
    """What looks wrong in an identity as the balance gave it (kept as given; these go with it to the record)."""
    warnings = [
        f"{command} answered an empty string" for command, text in (("I2", model), ("I4", serial)) if not text.strip()
    ]
    if model.strip() and model == serial:
        warnings.append(f"I2 (model and capacity) answered the serial number {serial!r}")
    elif model.strip() and not _CAPACITY.search(model):
        warnings.append(f"I2 answered {model!r}, which has no capacity with a unit: a serial number or another field?")
    return warnings


def _ascii(reply: bytes) -> str:
    try:
        return reply.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProtocolError(f"balance: non-ASCII reply {reply[:40]!r}") from None


def _raise_global(text: str, sent: str) -> None:
    if text in _GLOBAL_ERRORS:
        code, message = _GLOBAL_ERRORS[text]
        raise InstrumentRefused("balance", code, f"{text}: {message} (in reply to {sent})")


class MtSicsBalance:
    """A Mettler-Toledo balance speaking MT-SICS over a serial line (registered as `mt-sics`)."""

    device = DeviceKind.SCALE

    Options = SerialOptions

    @classmethod
    def connect(cls, options: SerialOptions, rig: RigContext) -> "MtSicsBalance":
        return cls(rig.port(options.port), rig.now, baudrate=options.baudrate, timeout_s=options.timeout_s)

    def __init__(self, port: str, now: Callable[[], float], *, baudrate: int = 9600, timeout_s: float = 2.0):
        self.line = SerialLine(port, baudrate=baudrate, timeout_s=timeout_s, name="balance")
        self.now = now
        self._asked: deque[float] = deque()  # when each SI asked ahead was sent, oldest first (ask_reading)
        self._fault: LineFault | None = None  # shown by a marker, raised at the next request

    def _ask(self, command: str) -> bytes:
        """Send a command and return the next line. Lines that arrived unasked before it are discarded, never
        read as its reply, and are a rig fault (LineFault): with no stream running, a balance sends nothing
        unasked, so they are a duplicated or late reply, and MT-SICS has no sequence number to tell which
        reading was whose."""
        self._fault_found()
        self._nothing_unasked(f"before {command}")
        self.line.write_line(command.encode("ascii") + b"\r\n")
        return self.line.read_line()

    def _nothing_unasked(self, when: str) -> None:
        stale = self.line.pending_lines()
        if stale:
            raise LineFault(
                f"balance ({self.line.port}): {len(stale)} unasked-for line(s) {when}, "
                f"discarded: {stale[:4]!r}: a duplicated or late reply"
            )

    def read(self) -> Reading:
        """Immediate reading (SI): stable or dynamic."""
        mass, stable = parse_weight(self._ask("SI"), "SI")
        return Reading(self.now(), mass, stable)

    def ask_reading(self) -> None:
        """SI without waiting for its reply (hil.drivers.contracts.AsksAhead), stamped now (in lockstep the time at
        which the emulator answers it, as `read`'s stamp after the reply is), followed by I4 as a marker: MT-SICS
        replies carry no number, and a reply lost or doubled among several asked ahead would shift every reply after
        it; between markers it shows at once (`take_reading`). I4 changes nothing on the balance."""
        self._fault_found()
        if not self._asked:
            self._nothing_unasked("before SI")
        self.line.write_line(b"SI\r\nI4\r\n")
        self._asked.append(self.now())

    def take_reading(self) -> Reading:
        """The reply to the oldest SI asked ahead. Where its marker belongs, anything but I4's reply (a reply doubled,
        a marker lost) is a LineFault raised at the next request, as `_ask`'s check raises it: this reply came before
        it and is its own. Where a weight belongs, anything else (a reply lost) is a ProtocolError now."""
        self._fault_found()
        if not self._asked:
            raise ProtocolError(f"balance ({self.line.port}): a reading taken that was never asked for")
        try:
            mass, stable = parse_weight(self.line.read_line(), "SI")
            marker = self.line.read_line()
            if marker.startswith(b"I4 "):
                parse_identity(marker, "I4")
            else:
                self._fault = LineFault(
                    f"balance ({self.line.port}): {marker[:40]!r} where the I4 after an SI reply belongs: "
                    "a reply doubled or a marker lost"
                )
        except BaseException:
            self._asked.clear()  # the replies still to come are unasked-for from now on
            raise
        return Reading(self._asked.popleft(), mass, stable)

    def _fault_found(self) -> None:
        """Raise the LineFault a marker showed, once."""
        if self._fault is not None:
            fault, self._fault = self._fault, None
            self._asked.clear()
            raise fault

    def read_stable(self) -> Reading:
        """Stable reading (S). InstrumentRefused BUSY while the balance is not stable: an ``S I`` reply, or
        ``S D`` (some balances answer S with a dynamic value while settling), which is never returned."""
        reply = self._ask("S")
        mass, stable = parse_weight(reply, "S")
        if not stable:
            raise InstrumentRefused(
                "balance", Refusal.BUSY, f"dynamic reading {_ascii(reply)!r} in reply to S: not stable"
            )
        return Reading(self.now(), mass, stable)

    def tare(self) -> float:
        """Tare (T); returns the tare weight in mg."""
        return parse_weight(self._ask("T"), "T")[0]

    def zero(self) -> None:
        reply = self._ask("Z")
        if reply.strip() != b"Z A":
            parse_weight(reply, "Z")  # raises the typed error for Z I / Z + / Z - / ES ...
            raise ProtocolError(f"balance: unexpected reply {reply!r} to Z")

    def start_stream(self) -> Reading:
        """Start repeated readings (SIR); returns the first, which the balance sends at once. Waiting for it
        also orders the request before anything the harness sends next on another link (e.g. a clock step)."""
        mass, stable = parse_weight(self._ask("SIR"), "SIR")
        return Reading(self.now(), mass, stable)

    def stream_reading(self) -> Reading:
        mass, stable = parse_weight(self.line.read_line(), "SIR")
        return Reading(self.now(), mass, stable)

    def reset(self) -> str:
        """Reset (@): stops streaming, returns the serial number; discards stale streamed lines, as many as the
        balance can send at its fastest (10 Hz, the project's assumption: docs/references.md, "Balances") within one
        link timeout, plus its reply."""
        self._asked.clear()
        self._fault = None
        self.line.write_line(b"@\r\n")
        for _ in range(int(10 * self.line.timeout_s) + 2):
            reply = self.line.read_line()
            if reply.startswith(b"I4"):
                return parse_identity(reply, "I4")
        raise ProtocolError(f"balance ({self.line.port}): no I4 reply to @ among the lines it kept sending")

    def identify(self) -> dict:
        """Model (I2) and serial (I4) as the balance gave them, and "warnings" when they look wrong."""
        model, serial = parse_identity(self._ask("I2"), "I2"), parse_identity(self._ask("I4"), "I4")
        identity: dict = {"model": model, "serial": serial}
        warnings = identity_warnings(model, serial)
        for warning in warnings:
            log.warning("balance at %s: %s", self.line.port, warning)
        if warnings:
            identity["warnings"] = warnings
        return identity

    def close(self) -> None:
        self.line.close()
