"""Mettler-Toledo MT-SICS balance driver (level 0/1: S, SI, SIR, Z, T, @, I2, I4).

Replies are parsed strictly; every reply gives a value or a typed error (BalanceRefused with the MT-SICS
code, or ProtocolError for a reply the standard does not allow).
"""

from dataclasses import dataclass
from typing import Callable

from hil.errors import DeviceRefused, ProtocolError
from hil.transport.serial_line import SerialLine

_UNIT_TO_MG = {"g": 1000.0, "mg": 1.0, "kg": 1e6}
_STATUS_ERRORS = {
    "I": ("BUSY", "command understood but not executable now (not stable, or busy)"),
    "+": ("OVERLOAD", "balance in overload range"),
    "-": ("UNDERLOAD", "balance in underload range"),
    "L": ("LOGICAL", "logical error: parameter not allowed"),
}
_GLOBAL_ERRORS = {
    "ES": "syntax error: command not recognised",
    "ET": "transmission error: the balance received faulty bytes",
    "EL": "logical error: the command cannot be executed",
}


@dataclass(frozen=True)
class Reading:
    t: float  # rig clock time of the reading, s
    mass_mg: float
    stable: bool

    @property
    def mass_g(self) -> float:
        return self.mass_mg / 1000.0


class BalanceRefused(DeviceRefused):
    pass


def parse_weight(reply: bytes, command: str = "S") -> tuple[float, bool]:
    """(mass in mg, stable) from an ``S S|D <value> <unit>`` reply, or a typed error."""
    text = _ascii(reply)
    _raise_global(text)
    parts = text.split()
    if len(parts) < 2 or parts[0] != command:
        raise ProtocolError(f"balance: unexpected reply {text!r} to {command}")
    status = parts[1]
    if status in _STATUS_ERRORS and len(parts) == 2:
        code, message = _STATUS_ERRORS[status]
        raise BalanceRefused("balance", code, message)
    if status not in ("S", "D") or len(parts) != 4 or parts[3] not in _UNIT_TO_MG:
        raise ProtocolError(f"balance: malformed weight reply {text!r}")
    try:
        value = float(parts[2])
    except ValueError:
        raise ProtocolError(f"balance: weight {parts[2]!r} is not a number") from None
    return value * _UNIT_TO_MG[parts[3]], status == "S"


def parse_identity(reply: bytes, command: str) -> str:
    text = _ascii(reply)
    _raise_global(text)
    head = f"{command} A "
    if not text.startswith(head) or not text.endswith('"') or text[len(head)] != '"':
        raise ProtocolError(f"balance: malformed reply {text!r} to {command}")
    return text[len(head) + 1 : -1]


def _ascii(reply: bytes) -> str:
    try:
        return reply.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProtocolError(f"balance: non-ASCII reply {reply[:40]!r}") from None


def _raise_global(text: str) -> None:
    if text in _GLOBAL_ERRORS:
        raise BalanceRefused("balance", text, _GLOBAL_ERRORS[text])


class MtSicsBalance:
    def __init__(self, port: str, now: Callable[[], float], *, baudrate: int = 9600, timeout_s: float = 2.0):
        self.line = SerialLine(port, baudrate=baudrate, timeout_s=timeout_s, name="balance")
        self.now = now

    def _ask(self, command: str) -> bytes:
        self.line.write_line(command.encode("ascii") + b"\r\n")
        return self.line.read_line()

    def read(self) -> Reading:
        """Immediate reading (SI): stable or dynamic."""
        mass, stable = parse_weight(self._ask("SI"))
        return Reading(self.now(), mass, stable)

    def read_stable(self) -> Reading:
        """Stable reading (S); BalanceRefused BUSY if the balance is not stable now."""
        mass, stable = parse_weight(self._ask("S"))
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
        mass, stable = parse_weight(self._ask("SIR"))
        return Reading(self.now(), mass, stable)

    def stream_reading(self) -> Reading:
        mass, stable = parse_weight(self.line.read_line())
        return Reading(self.now(), mass, stable)

    def reset(self) -> str:
        """Reset (@): stops streaming, returns the serial number; discards stale streamed lines."""
        self.line.write_line(b"@\r\n")
        while True:
            reply = self.line.read_line()
            if reply.startswith(b"I4"):
                return parse_identity(reply, "I4")

    def identify(self) -> dict[str, str]:
        return {"model": parse_identity(self._ask("I2"), "I2"), "serial": parse_identity(self._ask("I4"), "I4")}

    def close(self) -> None:
        self.line.close()
